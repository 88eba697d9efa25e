package io.nnsight.remote.internal.wire;

import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import java.util.Map;

/** Makes a lambda again from its {@link LambdaSpec} and captured values, on the side that reads a graph. */
@FunctionalInterface
public interface LambdaFactory {
    /** What the name of a lambda's class that a server's factory made has after its implementation's class. */
    String MADE_CLASS_INFIX = "$$NnsightLambda$";

    /**
     * The client's way, the JDK's own: the capturing class's {@code $deserializeLambda$}, which javac writes
     * into every class that makes serializable lambdas. Shipped classes are sliced without it; a server uses
     * the factory methods the sandbox adds to them instead.
     */
    LambdaFactory DESERIALIZE_LAMBDA = (spec, captured, loader) -> {
        Class<?> capturing = Class.forName(spec.capturingClass().replace('/', '.'), false, loader);
        Method deserialize = capturing.getDeclaredMethod("$deserializeLambda$", SerializedLambda.class);
        deserialize.setAccessible(true);
        return deserialize.invoke(null, spec.form(capturing, captured));
    };

    /**
     * Makes the lambda.
     *
     * @param loader resolves the spec's class names
     */
    Object create(LambdaSpec spec, Object[] captured, ClassLoader loader) throws ReflectiveOperationException;

    /**
     * The spec and captured values this factory made {@code lambda} from, so that a lambda made on a server
     * and written back travels as it came; {@code null} for a lambda it did not make.
     */
    default Map.Entry<LambdaSpec, Object[]> origin(Object lambda) {
        return null;
    }

    /**
     * Whether {@code type} is the class of a lambda that a server's factory made from shipped code, a plain class
     * rather than one the JDK made: its objects travel as lambdas (by their spec and captured values), not as
     * objects of that class; and one that came from somewhere else, such as an imported edit's, is refused as the
     * JDK's lambdas without {@code writeReplace} are.
     */
    static boolean isMadeLambda(Class<?> type) {
        return type.isSynthetic() && type.getName().contains(MADE_CLASS_INFIX);
    }
}
