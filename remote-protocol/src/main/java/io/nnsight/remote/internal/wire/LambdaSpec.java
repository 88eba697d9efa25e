package io.nnsight.remote.internal.wire;

import java.lang.invoke.SerializedLambda;

/**
 * What a shipped lambda is, as {@link SerializedLambda} describes it (names are internal, with slashes):
 * enough for the reading side to make the same lambda again around its captured values.
 *
 * @param capturingClass the class whose code created the lambda
 * @param functionalInterface the interface it implements
 * @param interfaceMethod that interface's method
 * @param interfaceMethodType the method's erased descriptor
 * @param implKind how the implementation is called ({@code MethodHandleInfo.REF_invokeStatic}...)
 * @param implClass the class that declares the implementation
 * @param implName the implementation's name
 * @param implDescriptor the implementation's descriptor
 * @param instantiatedType the interface method's descriptor as the lambda specializes it
 * @param capturedCount how many values it captures
 */
public record LambdaSpec(String capturingClass, String functionalInterface, String interfaceMethod,
        String interfaceMethodType, int implKind, String implClass, String implName, String implDescriptor,
        String instantiatedType, int capturedCount) {

    /** The spec of a serializable lambda's serialized form. */
    static LambdaSpec of(SerializedLambda form) {
        return new LambdaSpec(form.getCapturingClass(), form.getFunctionalInterfaceClass(),
                form.getFunctionalInterfaceMethodName(), form.getFunctionalInterfaceMethodSignature(),
                form.getImplMethodKind(), form.getImplClass(), form.getImplMethodName(), form.getImplMethodSignature(),
                form.getInstantiatedMethodType(), form.getCapturedArgCount());
    }

    /** The serialized form of this lambda around {@code captured}. */
    SerializedLambda form(Class<?> capturingType, Object[] captured) {
        return new SerializedLambda(capturingType, functionalInterface, interfaceMethod, interfaceMethodType, implKind,
                implClass, implName, implDescriptor, instantiatedType, captured);
    }
}
