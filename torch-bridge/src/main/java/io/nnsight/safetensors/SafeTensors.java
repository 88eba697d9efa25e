package io.nnsight.safetensors;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Tensors;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * One open <a href="https://huggingface.co/docs/safetensors">safetensors</a> file: the list of its
 * tensors, their types and shapes, and their values as libtorch tensors.
 *
 * <pre>{@code
 * try (SafeTensors file = SafeTensors.open(Path.of("model.safetensors"))) {
 *     Tensor embedding = file.tensor("model.embed_tokens.weight");    // a new tensor, stored dtype
 *     file.copyInto("lm_head.weight", lmHead.weight());                 // into an existing parameter
 * }
 * }</pre>
 *
 * <p>{@link #open} reads and checks the whole header, so a file that opens is consistent: every tensor
 * has a supported {@link DType} and its bytes lie inside the file and match its type and shape. Tensor
 * data is read only when asked for, in one of two ways:
 *
 * <ul>
 *   <li>{@link #mapped} gives a tensor over the file's own bytes, memory-mapped: nothing is read until the
 *       values are used, and the operating system keeps the pages in its file cache rather than in a copy of
 *       this process. This is how a language model's weights load when their stored type is the one the model
 *       runs in.
 *   <li>{@link #tensor} and {@link #copyInto} read the bytes straight from the file into the memory of the
 *       tensor that receives them, in pieces of at most 1 GiB, so files and tensors larger than 2 GiB are
 *       fine.
 * </ul>
 *
 * <p>The file stays open until {@link #close}. A model split over several files is read with {@link Weights}.
 *
 * <p>{@link #write} writes tensors to a new file that Hugging Face's safetensors reads (in Python, {@code
 * safetensors.torch.load_file}): activations saved by a trace, for analysis in Python, or an edited checkpoint.
 *
 * <pre>{@code
 * Map<String, Tensor> saved = new LinkedHashMap<>();
 * saved.put("layers.3.output", hidden);
 * SafeTensors.write(Path.of("activations.safetensors"), saved, Map.of("prompt", prompt));
 * }</pre>
 *
 * <p><b>Byte order.</b> safetensors stores values little-endian, and this reader copies bytes unchanged
 * into libtorch tensors, which hold values in the platform's byte order. Every platform Bytedeco builds
 * libtorch for (x86-64, ARM64) is little-endian; {@link #open} refuses to run on a big-endian one.
 *
 * <p><b>Native memory.</b> The tensors returned by {@link #tensor} are JavaCPP objects that belong, as
 * usual, to the innermost {@link org.bytedeco.javacpp.PointerScope} open on the calling thread (to the
 * garbage collector without one); close them or their scope when done. The reader itself holds no native
 * memory and frees the temporaries it makes before returning.
 *
 * <p><b>Threads.</b> The reading methods may be called from several threads at once; {@link #close} must
 * not run while they do.
 */
public final class SafeTensors implements Closeable {
    /** The largest piece read or written at once: a {@link ByteBuffer} holds at most 2 GiB. */
    private static final int MAX_IO_BYTES = 1 << 30;

    private final Path file;
    private final FileChannel channel;
    private final Header header;
    private volatile boolean closed;
    /** The whole file as a tensor of bytes, memory-mapped on the first {@link #mapped} call; guarded by this. */
    private Tensor mapping;

    private SafeTensors(Path file, FileChannel channel, Header header) {
        this.file = file;
        this.channel = channel;
        this.header = header;
    }

    /**
     * Opens a safetensors file and reads its header; no tensor data is read yet.
     *
     * @param file the {@code .safetensors} file
     * @return the open file, to be closed by the caller, preferably with try-with-resources
     * @throws NoSuchFileException if {@code file} does not exist
     * @throws SafeTensorsFormatException if {@code file} is not a valid safetensors file: shorter than 8
     *     bytes, a header length past the end of the file, a header that is not a JSON object, an
     *     unsupported dtype, or data offsets outside the data section or not matching dtype and shape
     * @throws IOException if {@code file} is a folder or cannot be read
     * @throws UnsupportedOperationException on a big-endian platform
     */
    public static SafeTensors open(Path file) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("safetensors data is little-endian and this reader does not "
                    + "swap bytes, but this platform (" + System.getProperty("os.arch") + ") is big-endian");
        }
        if (Files.isDirectory(file)) {
            throw new IOException(file + " is a folder, not a safetensors file; open a model folder with Weights.open");
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no such safetensors file");
        }
        try {
            return new SafeTensors(file, channel, Header.read(file, channel));
        } catch (IOException | RuntimeException e) {
            try {
                channel.close();
            } catch (IOException closeFailure) {
                e.addSuppressed(closeFailure);
            }
            throw e;
        }
    }

    /**
     * Writes {@code tensors}, by name, to the safetensors file {@code file}, with {@code metadata} as its string
     * metadata (transformers writes {@code {"format": "pt"}}): each tensor's values in its own type, copied to the
     * CPU and laid out contiguously on the way (a view writes the values it shows). The data of larger element types
     * comes first, then by name, so that every tensor starts aligned to its element size, as the reference writer
     * lays them out. The file is written beside {@code file} and then moved over it, so a file that a model maps
     * (its weights) can be replaced safely: the model keeps the old file's pages.
     *
     * @param tensors the tensors, of any {@link DType} and device; none may be named {@code __metadata__}
     * @throws IllegalArgumentException for a name that is empty or {@code __metadata__}, or a tensor that is
     *     undefined or of a type safetensors does not store (the message names it)
     * @throws IOException if the file cannot be written
     * @throws UnsupportedOperationException on a big-endian platform
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("safetensors data is little-endian and this writer does not swap "
                    + "bytes, but this platform (" + System.getProperty("os.arch") + ") is big-endian");
        }
        List<Map.Entry<String, Tensor>> laidOut = new ArrayList<>(tensors.entrySet());
        Map<String, DType> types = new HashMap<>();
        for (Map.Entry<String, Tensor> entry : laidOut) {
            String name = entry.getKey();
            if (name.isEmpty() || name.equals("__metadata__")) {
                throw new IllegalArgumentException("a tensor cannot be named \"" + name + "\" in a safetensors file");
            }
            if (entry.getValue() == null || !entry.getValue().defined()) {
                throw new IllegalArgumentException("tensor \"" + name + "\" is undefined");
            }
            try {
                types.put(name, DType.of(entry.getValue().scalar_type()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tensor \"" + name + "\": " + e.getMessage(), e);
            }
        }
        laidOut.sort(Comparator.<Map.Entry<String, Tensor>>comparingInt(entry -> -types.get(entry.getKey()).byteSize())
                .thenComparing(Map.Entry::getKey));
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject strings = new JsonObject();
            metadata.forEach(strings::addProperty);
            header.add("__metadata__", strings);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> entry : laidOut) {
            JsonObject info = new JsonObject();
            info.addProperty("dtype", types.get(entry.getKey()).name());
            JsonArray shape = new JsonArray();
            long bytes = types.get(entry.getKey()).byteSize();
            for (long size : Tensors.shape(entry.getValue())) {
                shape.add(size);
                bytes *= size;
            }
            info.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes);
            info.add("data_offsets", offsets);
            header.add(entry.getKey(), info);
            offset += bytes;
        }
        StringBuilder json = new StringBuilder(header.toString());
        while (json.length() % 8 != 0) { // the data starts 8-aligned, padded with spaces as the reference writer pads
            json.append(' ');
        }
        byte[] headerBytes = json.toString().getBytes(StandardCharsets.UTF_8);
        Path written = file.resolveSibling(file.getFileName() + ".writing");
        try (FileChannel channel = FileChannel.open(written, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING); PointerScope scope = new PointerScope();
                NoGradGuard noGrad = new NoGradGuard()) {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length);
            writeFully(channel, prefix.flip());
            writeFully(channel, ByteBuffer.wrap(headerBytes));
            for (Map.Entry<String, Tensor> entry : laidOut) {
                Tensor values = entry.getValue().detach().cpu().contiguous();
                long size = values.numel() * types.get(entry.getKey()).byteSize();
                BytePointer memory = new BytePointer(values.data_ptr());
                for (long done = 0; done < size; ) {
                    int length = (int) Math.min(size - done, MAX_IO_BYTES);
                    writeFully(channel, memory.getPointer(done).limit(length).asByteBuffer());
                    done += length;
                }
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(written);
            throw e;
        }
        Files.move(written, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** {@return the path this file was opened with} */
    public Path file() {
        return file;
    }

    /** {@return the names of all tensors, in the order the header lists them; the set cannot be modified} */
    public Set<String> names() {
        ensureOpen();
        return header.tensors().keySet();
    }

    /**
     * Returns the type, shape and position of a tensor, read from the header (no data is read).
     *
     * @param name the tensor's name, one of {@link #names()}
     * @return what the header says about the tensor
     * @throws IllegalArgumentException if there is no tensor {@code name}; the message lists the closest names
     */
    public TensorInfo info(String name) {
        ensureOpen();
        TensorInfo info = header.tensors().get(Objects.requireNonNull(name, "name"));
        if (info == null) {
            throw new IllegalArgumentException(Names.unknownTensor(name, header.tensors().keySet(), file));
        }
        return info;
    }

    /**
     * {@return the header's {@code "__metadata__"} map of free-form strings (for example {@code
     * format=pt}), empty if the header has none; the map cannot be modified}
     */
    public Map<String, String> metadata() {
        ensureOpen();
        return header.metadata();
    }

    /**
     * Reads a tensor into a new CPU tensor of its stored type and shape, which owns its memory and does not
     * depend on this file staying open.
     *
     * @param name the tensor's name, one of {@link #names()}
     * @return a new tensor holding a copy of the stored values
     * @throws IllegalArgumentException if there is no tensor {@code name}; the message lists the closest names
     * @throws UncheckedIOException if reading the file fails
     */
    public Tensor tensor(String name) {
        TensorInfo info = info(name);
        Tensor tensor;
        try (TensorOptions options = new TensorOptions(info.dtype().scalarType())) {
            tensor = torch.empty(info.shape(), options, null);
        }
        try {
            readInto(info, tensor);
        } catch (RuntimeException e) {
            tensor.close();
            throw e;
        }
        return tensor;
    }

    /**
     * Copies a tensor into an existing tensor of exactly the same shape, converting the values to the
     * destination's type and device: an {@link DType#F16} or {@link DType#BF16} weight loads into a
     * float32 parameter. The copy runs with autograd off, so {@code destination} may be a parameter that
     * requires grad; nothing is recorded for backpropagation.
     *
     * @param name the tensor's name, one of {@link #names()}
     * @param destination the tensor to overwrite, of any type and device, with the stored shape
     * @throws IllegalArgumentException if there is no tensor {@code name} (the message lists the closest
     *     names), or if the destination's shape differs from the stored one (the message names the tensor,
     *     the file and both shapes)
     * @throws UncheckedIOException if reading the file fails
     */
    public void copyInto(String name, Tensor destination) {
        Objects.requireNonNull(destination, "destination");
        TensorInfo info = info(name);
        if (!destination.defined()) {
            throw new IllegalArgumentException("The destination tensor is undefined");
        }
        long[] destinationShape = Tensors.shape(destination);
        if (!Arrays.equals(info.shape(), destinationShape)) {
            throw new IllegalArgumentException("Cannot copy tensor \"" + name + "\" from " + file + ": it has shape "
                    + Arrays.toString(info.shape()) + " but the destination has shape "
                    + Arrays.toString(destinationShape));
        }
        try (NoGradGuard noGrad = new NoGradGuard(); Tensor source = tensor(name)) {
            destination.copy_(source);
        }
    }

    /**
     * The tensor as stored, without reading it: a CPU tensor of its stored type and shape whose memory is the
     * file's bytes, mapped into this process (copy-on-write: changing its values changes this process's copy of
     * the touched pages, never the file). Nothing is read until the values are used; the pages then live in the
     * operating system's file cache, shared with every process that maps the file and dropped under memory
     * pressure, instead of in a copy of this process.
     *
     * <p>The tensor stays valid after {@link #close} and as long as it, or a view of it, is referenced: the
     * mapping is freed with the last tensor that uses it. The file must not be rewritten meanwhile. A tensor
     * whose bytes in the file are not aligned to its element size (a file whose writer did not align them, as
     * the reference writer does) cannot be mapped and is read into memory instead, as {@link #tensor} does.
     *
     * @param name the tensor's name, one of {@link #names()}
     * @return a tensor over the file's bytes, belonging to the caller's {@link org.bytedeco.javacpp.PointerScope}
     * @throws IllegalArgumentException if there is no tensor {@code name}; the message lists the closest names
     */
    public Tensor mapped(String name) {
        TensorInfo info = info(name);
        int elementSize = info.dtype().byteSize();
        long begin = header.dataStart() + info.dataBegin();
        if (info.byteSize() == 0 || begin % elementSize != 0) {
            return tensor(name);
        }
        try (Tensor bytes = mapping().narrow(0, begin, info.byteSize())) {
            return bytes.view(info.dtype().scalarType()).view(info.shape());
        }
    }

    private synchronized Tensor mapping() {
        ensureOpen();
        if (mapping == null) {
            try (TensorOptions bytes = new TensorOptions(DType.U8.scalarType())) {
                Tensor whole = torch.from_file(file.toString(), new BoolOptional(false), new LongOptional(channel.size()),
                        bytes);
                PointerScope scope = PointerScope.getInnerScope();
                if (scope != null) {
                    whole.retainReference();
                    scope.detach(whole);
                }
                mapping = whole;
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot map " + file, e);
            }
        }
        return mapping;
    }

    /**
     * Closes the file. Tensors from {@link #mapped} stay valid. Closing again has no effect; every other method
     * then throws {@link IllegalStateException}.
     */
    @Override
    public void close() throws IOException {
        closed = true;
        synchronized (this) {
            if (mapping != null) {
                mapping.close(); // the tensors still using the mapping keep it alive
                mapping = null;
            }
        }
        channel.close();
    }

    @Override
    public String toString() {
        return "SafeTensors[" + file + ", " + header.tensors().size() + " tensors" + (closed ? ", closed]" : "]");
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(file + " is closed");
        }
    }

    /** Reads the bytes of {@code info} into the memory of {@code tensor}, a new contiguous CPU tensor. */
    private void readInto(TensorInfo info, Tensor tensor) {
        long size = info.byteSize();
        if (size == 0) {
            return;
        }
        BytePointer memory = new BytePointer(tensor.data_ptr());
        long start = header.dataStart() + info.dataBegin();
        try {
            for (long done = 0; done < size; ) {
                int length = (int) Math.min(size - done, MAX_IO_BYTES);
                BytePointer piece = memory.getPointer(done);
                ByteBuffer buffer = piece.limit(length).asByteBuffer();
                Header.readFully(file, channel, buffer, start + done);
                done += length;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read tensor \"" + info.name() + "\" from " + file, e);
        }
    }
}
