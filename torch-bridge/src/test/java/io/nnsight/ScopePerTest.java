package io.nnsight;

import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Gives each test of a class a {@link PointerScope} of its own, closed after the test, so that the native memory a
 * test makes is freed when it ends: {@code @ExtendWith(ScopePerTest.class)}.
 */
public final class ScopePerTest implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(ScopePerTest.class);

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(NAMESPACE).put(PointerScope.class, new PointerScope());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        PointerScope scope = context.getStore(NAMESPACE).remove(PointerScope.class, PointerScope.class);
        if (scope != null) {
            scope.close();
        }
    }
}
