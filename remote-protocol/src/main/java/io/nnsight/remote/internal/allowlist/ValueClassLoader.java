package io.nnsight.remote.internal.allowlist;

import io.nnsight.spi.AgentExempt;
import java.net.URL;
import java.util.Collections;
import java.util.Enumeration;
import java.util.Objects;
import java.util.Set;

/**
 * The class loader a deserializer resolves the classes of a job's values through: the classes shipped code
 * may name (the {@link Sandbox}'s allow-list) and the job's own shipped classes, from another loader, and no
 * other. A job's request and its result hold nothing else, so a forged graph (from a stranger on a server,
 * or from a server on a client) cannot make the deserializer instantiate anything else.
 *
 * <pre>{@code
 * ClassLoader values = new ValueClassLoader(callerLoader, shipment.envelope().classes().keySet());
 * Object result = Graphs.read(graph, values, model, lambdas);
 * }</pre>
 */
public final class ValueClassLoader extends ClassLoader implements AgentExempt {
    static {
        registerAsParallelCapable();
    }

    private final ClassLoader classes;
    private final Set<String> shipped;
    private final Policy policy;

    /**
     * @param classes where the classes come from: on a server the job's {@link JobClassLoader}, on a client the
     *     loader of the caller's code
     * @param shipped the binary names of the job's shipped classes
     */
    public ValueClassLoader(ClassLoader classes, Set<String> shipped) {
        this(classes, shipped, Policy.standard(new ServerClasses(classes)));
    }

    /** With the policy of a {@link JobClassLoader}, which judges names by the server's classes. */
    public ValueClassLoader(ClassLoader classes, Set<String> shipped, Policy policy) {
        super("nnsight-job-values", Objects.requireNonNull(classes, "classes"));
        this.classes = classes;
        this.shipped = Set.copyOf(shipped);
        this.policy = policy;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (!shipped.contains(name)) {
            Policy.Verdict verdict = policy.type(name);
            if (!verdict.allowed()) {
                throw new ClassNotFoundException(name + " cannot be a value of a job: " + verdict.refusal());
            }
        }
        return classes.loadClass(name);
    }

    /** Whether this loader resolves the values of a job that ships the classes named {@code shipped}. */
    public boolean ships(Set<String> shipped) {
        return this.shipped.equals(shipped);
    }

    /** Always {@code null}: values need no resources. */
    @Override
    public URL getResource(String name) {
        return null;
    }

    /** Always empty: values need no resources. */
    @Override
    public Enumeration<URL> getResources(String name) {
        return Collections.emptyEnumeration();
    }
}
