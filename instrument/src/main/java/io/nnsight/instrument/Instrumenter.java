package io.nnsight.instrument;

import static net.bytebuddy.matcher.ElementMatchers.any;
import static net.bytebuddy.matcher.ElementMatchers.hasSuperType;
import static net.bytebuddy.matcher.ElementMatchers.isAbstract;
import static net.bytebuddy.matcher.ElementMatchers.isConstructor;
import static net.bytebuddy.matcher.ElementMatchers.isDeclaredBy;
import static net.bytebuddy.matcher.ElementMatchers.isStatic;
import static net.bytebuddy.matcher.ElementMatchers.isSynthetic;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.nameStartsWith;
import static net.bytebuddy.matcher.ElementMatchers.not;

import io.nnsight.instrument.capture.ClassCapture;
import io.nnsight.instrument.source.CallSiteRewriter;
import io.nnsight.instrument.source.SourceScanner;
import io.nnsight.instrument.statemachine.StateMachineCompiler;
import io.nnsight.instrument.transform.ForwardInterceptor;
import io.nnsight.instrument.transform.TraceableSupport;
import io.nnsight.spi.AgentExempt;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.NativeHookPoints;
import io.nnsight.spi.Traceable;
import java.lang.instrument.Instrumentation;
import java.util.Locale;
import net.bytebuddy.agent.builder.AgentBuilder;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.modifier.FieldManifestation;
import net.bytebuddy.description.modifier.Visibility;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.DynamicType;
import net.bytebuddy.implementation.FieldAccessor;
import net.bytebuddy.implementation.MethodDelegation;
import net.bytebuddy.matcher.ElementMatcher;
import net.bytebuddy.utility.JavaModule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs the nnsight agent's transforms, each applied once, when a class is loaded:
 *
 * <ol>
 *   <li>The class file of an application class (not the JDK's, not a library jar's) is recorded, unchanged,
 *       in {@link io.nnsight.spi.CapturedClasses}, to ship intervention code by value.
 *   <li>A plain subclass of {@code org.bytedeco.pytorch.Module} (the application's, not Bytedeco's) becomes
 *       {@link Traceable}: its {@code forward} methods run through a {@link HookPoint}, and its children are
 *       found by matching libtorch's names to the Java objects in its fields.
 *   <li>In every application module class (plain or {@code HookedModule}, nnsight's own included), the calls
 *       its {@code forward} makes become operations that traces can address ({@code envoy.source()}), and
 *       calls to a native module's {@code forward} ({@code LinearImpl.forward}) run through that module's
 *       {@linkplain NativeHookPoints hook point}.
 * </ol>
 *
 * With {@code -Dnnsight.engine=statemachine}, and by default on JDK 17 to 20 (no continuations there), the
 * {@link StateMachineCompiler} also rewrites the lambdas that are intervention bodies into resumable methods,
 * after the capture and the source map (which see the class file as written).
 *
 * <p>The transforms are applied in this order to a class that matches several. A class they cannot handle is
 * left as it was, with one debug log line. Classes of an {@link AgentExempt} class loader are left alone.
 */
public final class Instrumenter {
    private static final Logger LOG = LoggerFactory.getLogger(Instrumenter.class);
    private static final String MODULE = "org.bytedeco.pytorch.Module";

    private Instrumenter() {}

    /** Installs the transforms for the classes loaded from now on. */
    public static void install(Instrumentation instrumentation) {
        instrumentation.addTransformer(new ClassCapture());
        instrumentation.addTransformer(new SourceScanner());
        if (compilesBodies()) {
            instrumentation.addTransformer(StateMachineCompiler.configured());
        }
        NativeHookPoints.enableCallSites();
        agentBuilder()
                .with(AgentBuilder.InitializationStrategy.NoOp.INSTANCE)
                .with(AgentBuilder.TypeStrategy.Default.REBASE)
                .with(AgentBuilder.InjectionStrategy.Disabled.INSTANCE)
                .with(new FailureLog())
                .ignore(nameStartsWith("java.").or(nameStartsWith("javax.")).or(nameStartsWith("jdk."))
                        .or(nameStartsWith("sun.")).or(nameStartsWith("com.sun.")).or(nameStartsWith("org.bytedeco."))
                        .or(nameStartsWith("net.bytebuddy.")).or(nameStartsWith("io.nnsight.shaded."))
                        .or(nameStartsWith("io.nnsight.instrument.")).or(named("io.nnsight.agent.NnsightAgent")))
                .or(any(), loader -> loader instanceof AgentExempt)
                .type(topmostPlainModule())
                .transform(Instrumenter::makeTraceable)
                .type(plainModule())
                .transform(Instrumenter::interceptForward)
                .type(applicationModule())
                .transform((builder, type, loader, module, domain) ->
                        builder.visit(CallSiteRewriter.wrapper(loader, type.getName())))
                .installOn(instrumentation);
    }

    /**
     * Whether intervention bodies are compiled into state machines: with {@code -Dnnsight.engine=statemachine},
     * and by default ({@code auto}) on a JDK without continuations (before 21), where the other engine would be
     * threads. On JDK 21+ the default stays continuations, which run any body.
     */
    static boolean compilesBodies() {
        String engine = System.getProperty("nnsight.engine", "auto").trim().toLowerCase(Locale.ROOT);
        return engine.equals("statemachine") || engine.equals("auto") && Runtime.version().feature() < 21;
    }

    /**
     * A new agent builder. Its default initialization strategy starts ByteBuddy's Nexus, which reaches for
     * {@code sun.misc.Unsafe} (a warning on JDK 24+); the transforms need no class initializers injected,
     * so the Nexus stays off, through its documented property, for the builder's construction only.
     */
    private static AgentBuilder agentBuilder() {
        String property = "net.bytebuddy.nexus.disabled";
        String before = System.getProperty(property);
        System.setProperty(property, "true");
        try {
            return new AgentBuilder.Default();
        } finally {
            if (before == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, before);
            }
        }
    }

    /** A subclass of Bytedeco's {@code Module} written by the application (not a {@code HookedModule}). */
    static ElementMatcher.Junction<TypeDescription> plainModule() {
        return applicationModule().and(not(hasSuperType(named(Traceable.class.getName()))));
    }

    /** The first class below Bytedeco's own in a hierarchy of plain modules: it gets the hook point field. */
    static ElementMatcher.Junction<TypeDescription> topmostPlainModule() {
        return plainModule().and(type -> type.getSuperClass() != null
                && type.getSuperClass().asErasure().getName().startsWith("org.bytedeco."));
    }

    /** Any module class outside Bytedeco's packages. */
    static ElementMatcher.Junction<TypeDescription> applicationModule() {
        return hasSuperType(named(MODULE)).and(not(nameStartsWith("org.bytedeco.")));
    }

    static DynamicType.Builder<?> makeTraceable(DynamicType.Builder<?> builder, TypeDescription type, ClassLoader loader,
            JavaModule module, java.security.ProtectionDomain domain) {
        return builder
                .defineField(TraceableSupport.FIELD, HookPoint.class, Visibility.PRIVATE, FieldManifestation.VOLATILE)
                .implement(Traceable.class)
                .method(named("hookPoint").and(isDeclaredBy(Traceable.class)))
                .intercept(FieldAccessor.ofField(TraceableSupport.FIELD))
                .method(named("namedChildren").and(isDeclaredBy(Traceable.class)))
                .intercept(MethodDelegation.to(TraceableSupport.class))
                .visit(Advice.to(TraceableSupport.Construction.class).on(isConstructor()));
    }

    static DynamicType.Builder<?> interceptForward(DynamicType.Builder<?> builder, TypeDescription type, ClassLoader loader,
            JavaModule module, java.security.ProtectionDomain domain) {
        return builder
                .method(named("forward").and(isDeclaredBy(type)).and(not(isAbstract())).and(not(isStatic()))
                        .and(not(isSynthetic())))
                .intercept(MethodDelegation.to(ForwardInterceptor.class));
    }

    /** Logs a class the transforms failed on, once, at debug level; the class loads unchanged. */
    private static final class FailureLog extends AgentBuilder.Listener.Adapter {
        @Override
        public void onError(String typeName, ClassLoader loader, JavaModule module, boolean loaded, Throwable error) {
            LOG.debug("nnsight agent: {} left as it was: {}", typeName, error.toString());
        }
    }
}
