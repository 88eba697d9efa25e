package io.nnsight.remote.internal.sandbox;

import io.nnsight.lm.LanguageModel;
import io.nnsight.spi.CapturedClasses;
import java.io.File;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Code a stranger might ship that the sandbox must refuse, one nested class per case. None of it ever runs:
 * the tests read the class files.
 */
@SuppressWarnings({"removal", "deprecation"}) // finalize()
final class Hostile {
    private Hostile() {}

    static final class DeletesFile {
        static boolean run() {
            return new File("x").delete();
        }
    }

    static final class StartsProcess {
        static Process run() throws IOException {
            return Runtime.getRuntime().exec(new String[] {"true"});
        }
    }

    static final class LoadsClassByName {
        static Class<?> run() throws ClassNotFoundException {
            return Class.forName("java.lang.String");
        }
    }

    static final class StartsThread {
        static void run() {
            new Thread(() -> {}).start();
        }
    }

    static final class Exits {
        static {
            System.setProperty("nnsight.sandbox.test.ran", "yes");
        }

        static void run() {
            System.exit(0);
        }
    }

    static final class ReadsEnvironment {
        static Object run() {
            return System.getenv();
        }
    }

    static final class Reflects {
        static Object run() throws ReflectiveOperationException {
            return String.class.getDeclaredMethod("length").invoke("x");
        }
    }

    static final class AllocatesDirectMemory {
        static Object run() {
            return ByteBuffer.allocateDirect(8);
        }
    }

    static final class UsesUnsafe {
        static Object run() {
            return sun.misc.Unsafe.getUnsafe();
        }
    }

    static final class OpensSocket {
        static Object run() throws IOException {
            return new Socket("localhost", 1);
        }
    }

    static final class DefinesClasses extends ClassLoader {}

    static final class CallsNative {
        native void poke();
    }

    static final class PicklesTensor {
        static Object run(Tensor tensor) {
            return torch.pickle_save(new IValue(tensor));
        }
    }

    static final class ArchivesTensor {
        static void run(Tensor tensor) {
            OutputArchive archive = new OutputArchive();
            archive.write("tensor", tensor);
            archive.save_to("tensor.pt");
        }
    }

    static final class ReadsDataPointer {
        static Object run(Tensor tensor) {
            return tensor.data_ptr();
        }
    }

    static final class ReadsAddress {
        static long run(Tensor tensor) {
            return tensor.address();
        }
    }

    static final class SeedsGlobally {
        static void run() {
            torch.manual_seed(1);
        }
    }

    static final class ChangesModule {
        static void run(Module module, Tensor tensor) {
            module.register_parameter("w", tensor, true);
        }
    }

    static final class Waits {
        static void run(Object lock) throws InterruptedException {
            lock.wait();
        }
    }

    static final class LocksSharedObject {
        static void run() {
            synchronized (String.class) {
                Math.abs(1);
            }
        }
    }

    static final class Finalizes {
        @Override
        protected void finalize() {}
    }

    static final class RunsInParallel {
        static long run(List<Integer> numbers) {
            return numbers.parallelStream().filter(n -> n > 0).count();
        }
    }

    static final class LoadsModel {
        static Object run() {
            return LanguageModel.load("stories260K");
        }
    }

    static final class UsesInternals {
        static boolean run() {
            return CapturedClasses.isRecording();
        }
    }

    static final class PrintsToServerConsole {
        static void run(Exception e) {
            e.printStackTrace();
        }
    }
}
