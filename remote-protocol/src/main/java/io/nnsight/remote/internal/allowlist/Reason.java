package io.nnsight.remote.internal.allowlist;

/**
 * Why the sandbox refuses something: the text after the dash in each line of a {@link SandboxException}.
 * The texts are written for the person who shipped the code, so they say what is at stake, not which rule
 * matched.
 */
public enum Reason {
    FILES("files are off limits to shipped code"),
    NETWORK("network access is off limits to shipped code"),
    PROCESSES("processes and the JVM's runtime are off limits to shipped code"),
    EXIT("it would stop the server"),
    REFLECTION("reflection could reach past the sandbox"),
    CLASS_LOADING("class loaders and resources could reach past the sandbox"),
    THREADS("shipped code runs on the job's own threads, under the job's deadline"),
    LOCKS("locks on objects the server shares could stall the server; trace bodies run one at a time and need "
            + "none (synchronized methods are allowed)"),
    FINALIZER("it would run on the JVM's finalizer thread, outside the job and its deadline"),
    UNCHECKED_LOOP("it could loop where no deadline check can stop it"),
    UNBOUNDED_CALL("a regular expression can run for hours inside one JDK call, where the job's deadline cannot "
            + "stop it; split or match the text before the trace and ship the result"),
    SUBROUTINES("class files for Java 6 and older that use them are not supported; recompile for a newer Java"),
    JDK_INTERNALS("JDK internals could reach past the sandbox"),
    SERVER_SETTINGS("the server's environment, properties and console are off limits"),
    SERVER_CONSOLE("it prints to the server's console, not to the job's log; print to System.out instead"),
    NATIVE_CODE("native code could reach past the sandbox"),
    NATIVE_MEMORY("raw native memory could corrupt the server"),
    GLOBAL_SETTINGS("global settings affect every job"),
    SAVING_AND_LOADING("saving and loading would reach the server's files"),
    TORCHSCRIPT("TorchScript compiles and runs code outside the sandbox"),
    DEVICES("devices are managed by the server"),
    HOSTED_MODEL("the hosted model's modules must not be changed or reached into: call forward, or read and "
            + "write values through nnsight's envoys"),
    SHARED_MODEL("the hosted model and its wrapper are shared by every job, and a change to them would outlive this "
            + "one: use model.edit(...) for an edited copy of the job's own, or intervene in the trace body"),
    TENSOR_LAYOUT("it changes a tensor's storage, shape or flags in place, which on a hosted weight would outlive the "
            + "job; use the form that returns a new tensor (view, reshape, t(), squeeze(), detach(), clone())"),
    NATIVE_ADDRESS("it reveals where a native object lives in the server's memory; call toString() or hashCode() "
            + "on the object itself, which the server answers without the address"),
    TEXT_OF_OBJECTS("it turns objects into text by itself, where the server cannot keep native addresses out of it; "
            + "use String.format or string concatenation"),
    UNTRACKED_ALIAS("it aliases a tensor without counting changes to it, so a change to the hosted weights could "
            + "outlive the job; use detach()"),
    MODEL_LOADING("the server loads the models; use the one the job runs on"),
    NNSIGHT_INTERNALS("only nnsight's public API is available to shipped code"),
    TORCH_INTERNALS("only tensors, their values and torch's functions are available to shipped code"),
    NOT_ALLOWED("it is not on the sandbox's allow-list");

    private final String text;

    Reason(String text) {
        this.text = text;
    }

    @Override
    public String toString() {
        return text;
    }
}
