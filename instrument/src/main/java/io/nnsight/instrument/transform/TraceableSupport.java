package io.nnsight.instrument.transform;

import io.nnsight.spi.HookPoint;
import io.nnsight.spi.ModuleChildren;
import java.util.Map;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.implementation.bind.annotation.This;
import org.bytedeco.pytorch.Module;

/** The {@link io.nnsight.spi.Traceable} side of an instrumented plain Bytedeco module. */
public final class TraceableSupport {
    /** The field that holds an instrumented module's hook point. */
    public static final String FIELD = "nnsight$hookPoint";

    private TraceableSupport() {}

    /** {@code namedChildren()}: libtorch's children, as the Java objects the module's fields hold. */
    public static Map<String, Module> namedChildren(@This Module self) {
        return ModuleChildren.of(self);
    }

    /** Gives each new instance its hook point, at the end of its constructor. */
    public static final class Construction {
        private Construction() {}

        @Advice.OnMethodExit
        static void exit(@Advice.FieldValue(value = FIELD, readOnly = false) HookPoint hookPoint) {
            if (hookPoint == null) {
                hookPoint = new HookPoint();
            }
        }
    }
}
