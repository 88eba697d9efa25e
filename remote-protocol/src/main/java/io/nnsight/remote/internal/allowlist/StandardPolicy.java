package io.nnsight.remote.internal.allowlist;

import static io.nnsight.remote.internal.allowlist.Reason.CLASS_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.DEVICES;
import static io.nnsight.remote.internal.allowlist.Reason.EXIT;
import static io.nnsight.remote.internal.allowlist.Reason.FILES;
import static io.nnsight.remote.internal.allowlist.Reason.FINALIZER;
import static io.nnsight.remote.internal.allowlist.Reason.GLOBAL_SETTINGS;
import static io.nnsight.remote.internal.allowlist.Reason.HOSTED_MODEL;
import static io.nnsight.remote.internal.allowlist.Reason.JDK_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.MODEL_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.NATIVE_ADDRESS;
import static io.nnsight.remote.internal.allowlist.Reason.NATIVE_CODE;
import static io.nnsight.remote.internal.allowlist.Reason.NATIVE_MEMORY;
import static io.nnsight.remote.internal.allowlist.Reason.NETWORK;
import static io.nnsight.remote.internal.allowlist.Reason.NNSIGHT_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.PROCESSES;
import static io.nnsight.remote.internal.allowlist.Reason.REFLECTION;
import static io.nnsight.remote.internal.allowlist.Reason.SAVING_AND_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.SERVER_CONSOLE;
import static io.nnsight.remote.internal.allowlist.Reason.SERVER_SETTINGS;
import static io.nnsight.remote.internal.allowlist.Reason.SHARED_MODEL;
import static io.nnsight.remote.internal.allowlist.Reason.TENSOR_LAYOUT;
import static io.nnsight.remote.internal.allowlist.Reason.TEXT_OF_OBJECTS;
import static io.nnsight.remote.internal.allowlist.Reason.THREADS;
import static io.nnsight.remote.internal.allowlist.Reason.TORCHSCRIPT;
import static io.nnsight.remote.internal.allowlist.Reason.TORCH_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.UNBOUNDED_CALL;
import static io.nnsight.remote.internal.allowlist.Reason.UNTRACKED_ALIAS;

import io.nnsight.remote.internal.allowlist.Policy.Classes;

/**
 * The model server's allow-list: what intervention code shipped by strangers may reference. Everything is in
 * this one table; the rules are tried top to bottom and the first that matches decides (see {@link Policy}
 * for the pattern syntax). What no class rule allows is refused.
 *
 * <p>In short, shipped code gets the nnsight API, tensors and torch's functions, {@code java.lang}'s basics,
 * collections, streams, math and text formatting, and printing (which the rewriting sends to the job's log).
 * It does not get files, the network, processes, reflection, class loaders, threads, the server's settings,
 * raw native memory, TorchScript, devices, or the modules of the hosted model beyond calling {@code forward}.
 *
 * <p>Pitfalls when editing the table:
 *
 * <ul>
 *   <li>An exception must come before the rule it narrows: {@code ConcurrentHashMap} is allowed above the
 *       refusal of {@code java.util.concurrent.**}.
 *   <li>A member inherited from a public class is also judged by the class that declares it, so refusing
 *       {@code org.bytedeco.javacpp.Pointer} refuses {@code tensor.address()} too, and an allowed member of
 *       such a class (such as {@code Pointer.close}) needs a member rule.
 *   <li>JDK code that runs a lambda on a pool thread ({@code parallelStream}, {@code ConcurrentHashMap}'s
 *       bulk operations) would run shipped code where no deadline and no job output reach; those members
 *       are denied.
 * </ul>
 */
final class StandardPolicy {
    /** The element types of Bytedeco's containers ({@code LongArrayRef}, {@code TensorVector}) that are values. */
    private static final String TORCH_ELEMENTS = "{Bool,Byte,Short,Int,Long,Float,Double,Half,BFloat16,String,"
            + "StringView,SizeT,Scalar,ScalarType,Layout,MemoryFormat,Device,DeviceType,Dimname,DimnameList,Dim,SymDim,"
            + "SymInt,Stride,Tensor,TensorIndex,Generator,LongExpandingArray,DoubleExpandingArray}";
    /** Bytedeco's containers of those values, nested up to twice ({@code LongArrayRefOptional}). */
    private static final String TORCH_CONTAINERS =
            "{Optional,ArrayRef,HeaderOnlyArrayRef,Vector,List}{,Optional,ArrayRef,HeaderOnlyArrayRef,Vector,List}";
    private static final String TORCH_GLOBAL = "org.bytedeco.pytorch.global.torch";
    /**
     * The methods that rebind a tensor's storage, change its shape or strides in place, or flip its flags:
     * on a hosted weight, changes that would outlive the job or that its version counter does not count.
     */
    private static final String[] TENSOR_LAYOUT_CHANGES = {"set_*", "_set_*", "requires_grad_",
        "__dispatch_requires_grad_", "resize_*", "sparse_resize_*", "as_strided_", "as_strided__symint", "detach_",
        "t_", "transpose_", "swapdims_", "swapaxes_", "squeeze_", "unsqueeze_", "share_memory_", "rename_",
        "_coalesced_", "mutable_grad", "retain_grad"};
    private static final Classes TORCH_MODULES =
            Classes.named("org.bytedeco.pytorch.*").extending("org.bytedeco.pytorch.Module");

    static final Policy.Rules RULES = Policy.rules()
            // ---- java.lang: the language's own classes --------------------------------------------------------
            .allow("java.lang.{Object,String,StringBuilder,StringBuffer,CharSequence,Appendable,Boolean,Character,"
                            + "Number,Byte,Short,Integer,Long,Float,Double,Void,Math,StrictMath,Comparable,Iterable,"
                            + "AutoCloseable,Cloneable,Runnable,Enum,Record,Throwable,StackTraceElement,Override,"
                            + "FunctionalInterface,Deprecated,SafeVarargs,SuppressWarnings,Class,System}",
                    "java.lang.*Exception",
                    "java.lang.*Error",
                    "java.lang.runtime.*",
                    "java.lang.constant.*", // descriptions of constants, for enum constants in pattern switches
                    "java.lang.invoke.SerializedLambda")
            .denyMembers(THREADS, "java.lang.Object", "wait", "notify", "notifyAll")
            .denyMembers(FINALIZER, "java.lang.Object", "finalize")
            .denyMembers(SERVER_CONSOLE, "java.lang.Throwable", "printStackTrace()V")
            .denyMembers(SERVER_SETTINGS, "java.lang.{Integer,Long,Boolean}", "getInteger", "getLong", "getBoolean")
            .denyMembers(UNBOUNDED_CALL, "java.lang.String", "matches", "replaceAll", "replaceFirst", "split",
                    "splitWithDelimiters")
            .denyMembers(CLASS_LOADING, "java.lang.Class", "getClassLoader", "getResource*", "getModule")
            .onlyMembers(REFLECTION, "java.lang.Class", "getName", "getSimpleName", "getTypeName", "isInstance", "cast",
                    "isArray", "getComponentType", "desiredAssertionStatus", "equals", "hashCode", "toString")
            .denyMembers(EXIT, "java.lang.System", "exit")
            .denyMembers(NATIVE_CODE, "java.lang.System", "load", "loadLibrary", "mapLibraryName")
            .onlyMembers(SERVER_SETTINGS, "java.lang.System", "arraycopy", "nanoTime", "currentTimeMillis",
                    "identityHashCode", "lineSeparator", "out", "err")
            .onlyMembers(REFLECTION, "java.lang.invoke.SerializedLambda", "get*")
            .refuse(PROCESSES, "java.lang.{Process,ProcessBuilder,ProcessHandle,Runtime}")
            .refuse(THREADS, "java.lang.{Thread,ThreadGroup,ThreadLocal,InheritableThreadLocal,ScopedValue}",
                    "java.lang.ref.**")
            .refuse(CLASS_LOADING, "java.lang.{ClassLoader,ClassValue}", "java.lang.instrument.**")
            .refuse(REFLECTION, "java.lang.reflect.**", "java.lang.invoke.**",
                    "java.lang.{Module,ModuleLayer,Package,StackWalker}")
            .refuse(NATIVE_MEMORY, "java.lang.foreign.**")
            .refuse(SERVER_SETTINGS, "java.lang.{SecurityManager,Shutdown}", "java.lang.management.**")
            // ---- java.util, java.math, java.text: collections, streams, math, formatting ----------------------
            .allow("java.util.concurrent.ConcurrentHashMap", "java.util.concurrent.atomic.*")
            .refuse(THREADS, "java.util.concurrent.**", "java.util.{Timer,TimerTask}", "java.util.stream.StreamSupport")
            .refuse(CLASS_LOADING, "java.util.{ServiceLoader,ResourceBundle,ListResourceBundle,PropertyResourceBundle}",
                    "java.util.spi.**")
            .refuse(FILES, "java.util.{Scanner,Formatter}", "java.util.{zip,jar,prefs}.**")
            .refuse(SERVER_SETTINGS, "java.util.logging.**")
            .refuse(UNBOUNDED_CALL, "java.util.regex.**")
            .refuse(TEXT_OF_OBJECTS, "java.text.MessageFormat")
            .allow("java.util.*", "java.util.function.*", "java.util.stream.*", "java.util.random.*", "java.math.*",
                    "java.text.*")
            .denyMembers(THREADS, "java.util.**", "parallel*")
            .denyMembers(THREADS, "java.util.concurrent.ConcurrentHashMap", "*(J*")
            .denyMembers(GLOBAL_SETTINGS, "java.util.{Locale,TimeZone}", "setDefault")
            // ---- java.io, java.nio: printing only --------------------------------------------------------------
            .allow("java.io.{PrintStream,Serializable,IOException,UncheckedIOException}")
            .denyMembers(FILES, "java.io.PrintStream", "<init>")
            .denyMembers(SERVER_SETTINGS, "java.io.PrintStream", "close")
            .refuse(FILES, "java.io.**", "java.nio.file.**", "java.nio.channels.**")
            .refuse(NATIVE_MEMORY, "java.nio.**")
            // ---- the rest of the JDK ---------------------------------------------------------------------------
            .refuse(NETWORK, "java.net.**", "javax.net.**", "jdk.net.**", "java.rmi.**", "javax.rmi.**",
                    "javax.naming.**", "java.sql.**", "javax.sql.**")
            .refuse(SERVER_SETTINGS, "java.security.**", "javax.security.**", "javax.management.**")
            .refuse(JDK_INTERNALS, "sun.**", "com.sun.**", "jdk.**")
            // ---- nnsight's API ---------------------------------------------------------------------------------
            .refuse(GLOBAL_SETTINGS, "io.nnsight.LibTorch")
            .refuse(MODEL_LOADING, "io.nnsight.lm.LanguageModel$Options")
            .allow("io.nnsight.*", "io.nnsight.nn.*", "io.nnsight.lm.*", "io.nnsight.lm.decoder.*")
            .denyMembers(MODEL_LOADING, "io.nnsight.lm.LanguageModel", "load", "folder")
            .denyMembers(HOSTED_MODEL, "io.nnsight.lm.Tokenizer", "close")
            .denyMembers(SHARED_MODEL, "io.nnsight.NNsight", "editInPlace", "clearEdits", "rename")
            .denyMembers(SHARED_MODEL, "io.nnsight.nn.Sequential", "add")
            .refuse(NNSIGHT_INTERNALS, "io.nnsight.**")
            // ---- Bytedeco PyTorch: tensors, values and torch's functions -----------------------------------------
            .refuse(NATIVE_MEMORY, "org.bytedeco.pytorch.{*Storage*,*DataPtr*,*Allocator*}")
            .refuse(SAVING_AND_LOADING,
                    "org.bytedeco.pytorch.{*Archive*,*Pickle*,*pickle*,*File*,*file*,*Path*,*Serializ*}")
            .refuse(TORCHSCRIPT, "org.bytedeco.pytorch.{*Jit*,CompilationUnit,*Script*}")
            .refuse(DEVICES, "org.bytedeco.pytorch.{cuda,gloo,nccl}.**", TORCH_GLOBAL + "_{cuda,gloo,nccl}",
                    "org.bytedeco.pytorch.*{CUDA,Cuda,HIP,MPS,XPU}*")
            .allow(TORCH_MODULES)
            .allow("org.bytedeco.pytorch.{Tensor,TensorBase,AbstractTensor,Scalar,TensorOptions,Device,TensorIndex,"
                            + "Slice,SymInt,Dimname,Half,BFloat16}",
                    "org.bytedeco.pytorch." + TORCH_ELEMENTS + TORCH_CONTAINERS,
                    "org.bytedeco.pytorch.T_{Tensor,Long,Int}*_T{,Optional}",
                    TORCH_GLOBAL)
            .onlyMembers(HOSTED_MODEL, TORCH_MODULES, "forward")
            .denyMembers(NATIVE_MEMORY, "org.bytedeco.pytorch.**", "address", "position", "capacity", "limit", "put",
                    "getPointer", "deallocate*", "retainReference", "releaseReference", "setNull", "zero", "fill",
                    "asBuffer", "asByteBuffer", "data_ptr*", "const_data_ptr*", "mutable_data_ptr*", "storage",
                    "set_data", "unsafe*")
            .denyMembers(UNTRACKED_ALIAS, "org.bytedeco.pytorch.{Tensor,TensorBase}", "data", "variable_data")
            .denyMembers(TENSOR_LAYOUT, "org.bytedeco.pytorch.{Tensor,TensorBase,AbstractTensor}", TENSOR_LAYOUT_CHANGES)
            .denyMembers(SERVER_CONSOLE, "org.bytedeco.pytorch.**", "print*", "_print*", "warn*")
            .denyMembers(SAVING_AND_LOADING, "org.bytedeco.pytorch.**", "save*", "load*", "pickle*", "unpickle*",
                    "*file*", "*File*", "*path*", "*Path*")
            .denyMembers(TORCHSCRIPT, TORCH_GLOBAL, "jit*", "*Jit*", "*_jit_*")
            .denyMembers(DEVICES, TORCH_GLOBAL, "cuda*", "xpu*", "mps*", "*CUDA*", "*_synchronize", "synchronizeDevice",
                    "setDeviceIndex", "exchangeDevice", "maybeExchangeDevice")
            .denyMembers(SERVER_SETTINGS, TORCH_GLOBAL, "*_env")
            .denyMembers(GLOBAL_SETTINGS, TORCH_GLOBAL, "set_*", "Set*", "manual_seed", "*_manual_seed*",
                    "init_num_threads", "lazy_init_num_threads", "enable*", "disable*", "register*", "Register*",
                    "deregister*", "unregister*", "add*Callback", "clear*Callbacks", "reenableCallback",
                    "tls_set_*", "setDebugLevel*", "InitCaffeLogging", "initLogging", "UpdateLoggingLevelsFromFlags",
                    "ParseCommandLineFlags", "ShowLogInfoToStderr", "LogAPIUsage*", "LogPyTorchDDPUsage",
                    "*Profil*", "globalContext")
            .denyMembers(TENSOR_LAYOUT, TORCH_GLOBAL, TENSOR_LAYOUT_CHANGES)
            .refuse(TORCH_INTERNALS, "org.bytedeco.pytorch.**")
            .allow("org.bytedeco.javacpp.PointerScope")
            .onlyMembers(NATIVE_MEMORY, "org.bytedeco.javacpp.PointerScope", "<init>", "close", "attach")
            .allowMembers("org.bytedeco.javacpp.Pointer", "close", "equals")
            .denyMembers(NATIVE_ADDRESS, "org.bytedeco.javacpp.Pointer", "hashCode", "toString")
            .refuse(NATIVE_MEMORY, "org.bytedeco.javacpp.**")
            // ---- what the JVM links for shipped code, though it may not name it --------------------------------
            .bootstraps("java.lang.invoke.LambdaMetafactory", "metafactory", "altMetafactory")
            .bootstraps("java.lang.invoke.StringConcatFactory", "makeConcatWithConstants", "makeConcat")
            .bootstraps("java.lang.runtime.ObjectMethods", "bootstrap")
            .bootstraps("java.lang.runtime.SwitchBootstraps", "*")
            .bootstraps("java.lang.invoke.ConstantBootstraps", "invoke") // calls a method handle the check allowed
            .linkedOnly("java.lang.invoke.{LambdaMetafactory,StringConcatFactory,ConstantBootstraps,"
                            + "MethodHandles$Lookup,MethodType,MethodHandle,CallSite,TypeDescriptor}",
                    // a lambda class the JVM spins for a Serializable interface (TraceBody) refuses Java
                    // serialization with methods that name these
                    "java.io.{NotSerializableException,ObjectInputStream,ObjectOutputStream}",
                    // the constructor accessor the JVM spins to make a shipped object without running a
                    // constructor, as the deserializer of the request's values does
                    "jdk.internal.reflect.{SerializationConstructorAccessorImpl,ConstructorAccessorImpl,MagicAccessorImpl}",
                    "java.lang.reflect.InvocationTargetException")
            .build();

    private StandardPolicy() {}
}
