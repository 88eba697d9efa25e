package io.nnsight.lm.decoder;

import io.nnsight.safetensors.DType;
import java.util.Locale;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Where a model's tensors live and the type of its weights and activations: what {@code
 * LanguageModel.Options.dtype(...)} and {@code device(...)} choose. Every tensor a decoder makes, its
 * parameters, the rotary frequencies, positions, masks, and the inputs, cache and generation state the
 * language model makes around it, is made with one of these options, so nothing is assumed to be on the
 * host:
 *
 * <pre>{@code
 * Placement placement = Placement.of(DType.BF16, "cuda:0");
 * Tensor weight = placement.parameter(4096, 4096);          // uninitialised, bfloat16, on the GPU
 * Tensor positions = torch.arange(new Scalar(16), placement.longs());
 * }</pre>
 *
 * <p>The options are made once and live as long as the placement, outside any {@link PointerScope}.
 */
public final class Placement {
    private final DType dtype;
    private final String device;
    /** Read at every attention call ({@link #isMeta}), so kept rather than compared each time. */
    private final boolean meta;
    /** Whether the device is the CPU: {@link #onDevice} then asks a tensor {@code is_cpu()}, making no Device. */
    private final boolean cpu;
    private final Device nativeDevice;
    private final TensorOptions weights;
    private final TensorOptions longs;
    private final TensorOptions bools;

    private Placement(DType dtype, String device) {
        this.dtype = dtype;
        this.device = device;
        this.meta = device.equals("meta");
        this.nativeDevice = kept(new Device(device));
        this.cpu = nativeDevice.is_cpu();
        this.weights = options(dtype.scalarType());
        this.longs = options(ScalarType.Long);
        this.bools = options(ScalarType.Bool);
    }

    /**
     * A placement on {@code device} ({@code "cpu"}, {@code "cuda"}, {@code "cuda:1"}) with weights of type {@code
     * dtype}.
     *
     * @throws IllegalArgumentException when {@code dtype} is not a floating-point type, or the device is unknown or
     *     not available (see {@link #checkDevice})
     */
    public static Placement of(DType dtype, String device) {
        return new Placement(checkFloatingPoint(dtype), checkDevice(device));
    }

    private static DType checkFloatingPoint(DType dtype) {
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("a model's weights are floating-point; " + dtype + " is not (use F32, "
                    + "BF16, F16 or F64)");
        }
        return dtype;
    }

    /**
     * A placement on libtorch's meta device, with weights of type {@code dtype}: its tensors have shapes and types
     * but no memory, and operations on them compute only the shapes and types of their results. What a scan runs a
     * copy of a model on ({@code LanguageModel.scan}); a model placed so holds no weights and cannot generate text.
     */
    public static Placement meta(DType dtype) {
        return new Placement(checkFloatingPoint(dtype), "meta");
    }

    /** Whether this is a placement on the meta device, whose tensors have no values ({@link #meta(DType)}). */
    public boolean isMeta() {
        return meta;
    }

    /**
     * {@code device} in libtorch's spelling ({@code "cpu"}, {@code "cuda:0"}), once it is known to be available.
     *
     * @throws IllegalArgumentException for a device other than {@code cpu}, {@code cuda} and {@code cuda:N}, or a GPU
     *     this JVM cannot use; the message says which devices it has, and what CUDA needs
     */
    public static String checkDevice(String device) {
        String name = device.trim().toLowerCase(Locale.ROOT);
        if (name.equals("cpu")) {
            return name;
        }
        if (!name.matches("cuda(:\\d+)?")) {
            throw new IllegalArgumentException("unknown device '" + device + "': use cpu, cuda or cuda:N; this JVM has "
                    + available());
        }
        int index = name.equals("cuda") ? 0 : Integer.parseInt(name.substring("cuda:".length()));
        if (!torch.cuda_is_available() || index >= torch.cuda_device_count()) {
            throw new IllegalArgumentException("device '" + device + "' is not available: this JVM has " + available()
                    + (torch.cuda_is_available() ? "" : ". CUDA needs the build's cuda profile (./mvnw -Pcuda, Bytedeco's "
                    + "CUDA build of libtorch) and an NVIDIA GPU with its driver"));
        }
        return "cuda:" + index;
    }

    private static String available() {
        long gpus = torch.cuda_is_available() ? torch.cuda_device_count() : 0;
        return gpus == 0 ? "the cpu only" : "cpu and cuda:0" + (gpus > 1 ? " to cuda:" + (gpus - 1) : "");
    }

    /** The weights' and activations' type. */
    public DType dtype() {
        return dtype;
    }

    /** The device, as given: {@code "cpu"}, {@code "cuda:0"}... */
    public String device() {
        return device;
    }

    /**
     * An uninitialised tensor of the weights' type on the device, for a parameter that a checkpoint fills: as
     * with transformers' {@code from_pretrained}, no time is spent on initial values that are overwritten.
     */
    public Tensor parameter(long... shape) {
        return torch.empty(shape, weights, null);
    }

    /** Options for tensors of the weights' type on the device. */
    public TensorOptions weights() {
        return weights;
    }

    /** Options for int64 tensors on the device (token ids, positions). */
    public TensorOptions longs() {
        return longs;
    }

    /** Options for boolean tensors on the device (masks, finished rows). */
    public TensorOptions bools() {
        return bools;
    }

    /** {@code tensor} on the device (itself when it is there already); its type unchanged. */
    public Tensor onDevice(Tensor tensor) {
        boolean there = cpu ? tensor.is_cpu() : tensor.device().equals(nativeDevice);
        return there ? tensor : tensor.to(nativeDevice, tensor.scalar_type());
    }

    @Override
    public String toString() {
        return dtype.torchName() + " on " + device;
    }

    private TensorOptions options(ScalarType type) {
        return kept(new TensorOptions(type).device(new DeviceOptional(nativeDevice)).dtype(new ScalarTypeOptional(type)));
    }

    /** Takes {@code pointer} out of the caller's {@link PointerScope}: it lives as long as the object keeping it. */
    static <P extends Pointer> P kept(P pointer) {
        PointerScope scope = PointerScope.getInnerScope();
        if (scope != null) {
            pointer.retainReference();
            scope.detach(pointer);
        }
        return pointer;
    }
}
