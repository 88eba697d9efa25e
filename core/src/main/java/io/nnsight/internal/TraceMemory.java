package io.nnsight.internal;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * The native memory of one trace: every tensor created while the trace runs, on the model's thread or in
 * an intervention body, belongs to the trace and is freed when it ends, except what is {@linkplain
 * #keep kept} (the trace's result and saved values).
 *
 * <p>JavaCPP attaches each new native object to the innermost {@link PointerScope} of the thread that
 * creates it. The trace opens one scope per thread that runs its code. A kept value leaves these scopes:
 * it then belongs to the scope the caller had open when the trace began, or, without one, to the garbage
 * collector (and to its own {@code close()}).
 */
public final class TraceMemory {
    private final PointerScope callerScope = PointerScope.getInnerScope();
    private final List<TraceScope> scopes = new ArrayList<>(2);

    /**
     * Opens the trace's scope on the calling thread, unless the thread already has one of this trace's (a
     * body that runs on the model's own thread); pass the result to {@link #leaveThread} when the thread is
     * done.
     *
     * @return the new scope, or {@code null} when the thread's scope serves
     */
    public PointerScope enterThread() {
        Thread thread = Thread.currentThread();
        for (TraceScope scope : scopes) {
            if (scope.owner == thread && scope.open) {
                return null;
            }
        }
        TraceScope scope = new TraceScope();
        scopes.add(scope);
        return scope;
    }

    /**
     * Takes a scope from {@link #enterThread()} off the calling thread's scope stack while keeping what it
     * holds until {@link #close()}: values a body made may still be used by the model after the body ended.
     */
    public void leaveThread(PointerScope scope) {
        if (scope != null) {
            ((TraceScope) scope).open = false;
            scope.extend();
            scope.close();
        }
    }

    /** Exempts every native object reachable from {@code value} from being freed by {@link #close()}. */
    public void keep(Object value) {
        ValueTrees.forEachPointer(value, this::keepPointer);
    }

    private void keepPointer(Pointer pointer) {
        boolean owned = false;
        for (TraceScope scope : scopes) {
            owned |= scope.disown(pointer);
        }
        if (owned && callerScope != null) {
            callerScope.attach(pointer);
            pointer.releaseReference();
        }
    }

    /** Frees everything the trace made and did not keep. */
    public void close() {
        for (TraceScope scope : scopes) {
            scope.close();
        }
        scopes.clear();
    }

    /**
     * A scope that can give up a pointer without freeing it. JavaCPP's own {@link PointerScope#detach}
     * always drops a reference, which frees a pointer that was never attached.
     */
    private static final class TraceScope extends PointerScope {
        private final Thread owner = Thread.currentThread();
        private final List<Pointer> owned = new ArrayList<>();
        private boolean open = true;
        private boolean keepOnClose;

        @Override
        public PointerScope attach(Pointer pointer) {
            owned.add(pointer);
            pointer.retainReference();
            return this;
        }

        @Override
        public PointerScope detach(Pointer pointer) {
            if (disown(pointer)) {
                pointer.releaseReference();
            }
            return this;
        }

        /** Stops owning {@code pointer} without dropping its reference; whether it was owned. */
        boolean disown(Pointer pointer) {
            for (int i = owned.size() - 1; i >= 0; i--) {
                if (owned.get(i) == pointer) {
                    owned.remove(i);
                    return true;
                }
            }
            return false;
        }

        @Override
        public PointerScope extend() {
            keepOnClose = true;
            return super.extend();
        }

        @Override
        public void close() {
            open = false;
            if (keepOnClose) {
                keepOnClose = false;
            } else {
                for (int i = owned.size() - 1; i >= 0; i--) {
                    owned.get(i).releaseReference();
                }
                owned.clear();
            }
            super.close();
        }
    }
}
