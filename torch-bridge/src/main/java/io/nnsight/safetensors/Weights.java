package io.nnsight.safetensors;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;

/**
 * The weights of a model folder in the Hugging Face layout, read from one safetensors file or from
 * several (shards) as if they were one.
 *
 * <pre>{@code
 * try (Weights weights = Weights.open(Path.of("/models/llama"))) {
 *     for (String name : weights.names()) {
 *         weights.copyInto(name, parameters.get(name));        // read and converted into a parameter
 *     }
 *     Tensor embedding = weights.mapped("model.embed_tokens.weight");  // or memory-mapped, as stored
 * }
 * }</pre>
 *
 * <p>{@link #open} looks in the folder for {@value #SINGLE_FILE} first, then for {@value #INDEX_FILE}, a
 * JSON file whose {@code "weight_map"} names the shard that holds each tensor, and opens every shard it
 * names. Every method behaves as the {@link SafeTensors} method of the same name on the file that holds
 * the tensor; see there for data types, native memory and threads.
 */
public final class Weights implements Closeable {
    /** The file name of a model's weights when they fit in one file. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** The file name of the index of a model whose weights are split over several files. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    /** How many entries of a folder without weights an error message lists. */
    private static final int LISTED_ENTRIES = 20;

    private final Path folder;
    private final List<SafeTensors> files;
    private final Map<String, SafeTensors> fileOf;
    private volatile boolean closed;

    private Weights(Path folder, List<SafeTensors> files, Map<String, SafeTensors> fileOf) {
        this.folder = folder;
        this.files = files;
        this.fileOf = fileOf;
    }

    /**
     * Opens the weights of a model folder: {@value #SINGLE_FILE} if the folder has it, otherwise every
     * shard named by {@value #INDEX_FILE}. Only headers are read; no tensor data.
     *
     * @param folder the model folder
     * @return the open weights, to be closed by the caller, preferably with try-with-resources
     * @throws NoSuchFileException if the folder does not exist, has neither file (the message lists what it
     *     contains), or its index names a shard that does not exist
     * @throws SafeTensorsFormatException if the index is not valid (not JSON, no {@code "weight_map"} of
     *     strings, a tensor its shard does not hold) or a weights file is not valid safetensors
     * @throws IOException if {@code folder} is not a folder or a file cannot be read
     */
    public static Weights open(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            if (Files.exists(folder)) {
                throw new IOException(folder + " is a file, not a model folder; open a single file with SafeTensors.open");
            }
            throw new NoSuchFileException(folder.toString(), null, "no such model folder");
        }
        Path single = folder.resolve(SINGLE_FILE);
        if (Files.exists(single)) {
            SafeTensors file = SafeTensors.open(single);
            Map<String, SafeTensors> fileOf = new LinkedHashMap<>();
            file.names().forEach(name -> fileOf.put(name, file));
            return new Weights(folder, List.of(file), Collections.unmodifiableMap(fileOf));
        }
        Path index = folder.resolve(INDEX_FILE);
        if (Files.exists(index)) {
            return openShards(folder, index);
        }
        throw new NoSuchFileException(folder.toString(), null, "neither " + SINGLE_FILE + " nor " + INDEX_FILE
                + " is in this folder, which contains " + describeContents(folder));
    }

    private static Weights openShards(Path folder, Path index) throws IOException {
        Map<String, String> shardOf = weightMap(index);
        Map<String, SafeTensors> openShards = new LinkedHashMap<>();
        try {
            Map<String, SafeTensors> fileOf = new LinkedHashMap<>();
            for (Map.Entry<String, String> entry : shardOf.entrySet()) {
                String name = entry.getKey();
                String shardName = entry.getValue();
                SafeTensors shard = openShards.get(shardName);
                if (shard == null) {
                    shard = openShard(folder, index, name, shardName);
                    openShards.put(shardName, shard);
                }
                if (!shard.names().contains(name)) {
                    throw new SafeTensorsFormatException(index, "the weight_map puts tensor \"" + name + "\" in "
                            + shardName + ", which does not contain it");
                }
                fileOf.put(name, shard);
            }
            return new Weights(folder, List.copyOf(openShards.values()), Collections.unmodifiableMap(fileOf));
        } catch (IOException | RuntimeException e) {
            for (SafeTensors shard : openShards.values()) {
                try {
                    shard.close();
                } catch (IOException closeFailure) {
                    e.addSuppressed(closeFailure);
                }
            }
            throw e;
        }
    }

    /** Reads the {@code "weight_map"} of an index: tensor name to shard file name, in index order. */
    private static Map<String, String> weightMap(Path index) throws IOException {
        JsonObject root = Json.parseObject(index, ByteBuffer.wrap(Files.readAllBytes(index)), "the index");
        JsonElement weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isJsonObject()) {
            throw new SafeTensorsFormatException(index, "the index has no \"weight_map\" object");
        }
        Map<String, String> shardOf = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> entry : weightMap.getAsJsonObject().entrySet()) {
            String shardName = Json.stringOrNull(entry.getValue());
            if (shardName == null) {
                throw new SafeTensorsFormatException(index, "the weight_map entry of tensor \"" + entry.getKey()
                        + "\" must be a file name but is " + Json.abbreviate(entry.getValue()));
            }
            shardOf.put(entry.getKey(), shardName);
        }
        return shardOf;
    }

    private static SafeTensors openShard(Path folder, Path index, String tensor, String shardName)
            throws IOException {
        Path shard = folder.resolve(shardName).normalize();
        if (!shard.startsWith(folder.normalize()) || shard.equals(folder.normalize())) {
            throw new SafeTensorsFormatException(index, "the weight_map puts tensor \"" + tensor + "\" in \""
                    + shardName + "\", which is not a file inside the model folder");
        }
        if (!Files.exists(shard)) {
            throw new NoSuchFileException(shard.toString(), null, "this shard, named in " + index
                    + " for tensor \"" + tensor + "\", does not exist");
        }
        return SafeTensors.open(shard);
    }

    private static String describeContents(Path folder) throws IOException {
        List<String> entries = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(folder)) {
            stream.forEach(entry -> entries.add(entry.getFileName().toString()));
        }
        if (entries.isEmpty()) {
            return "nothing";
        }
        Collections.sort(entries);
        String listed = String.join(", ", entries.subList(0, Math.min(entries.size(), LISTED_ENTRIES)));
        return entries.size() <= LISTED_ENTRIES
                ? "[" + listed + "]"
                : "[" + listed + ", and " + (entries.size() - LISTED_ENTRIES) + " more]";
    }

    /** {@return the model folder these weights were opened from} */
    public Path folder() {
        return folder;
    }

    /**
     * {@return the names of all tensors, in file order for a single file and in {@code "weight_map"}
     * order for shards; the set cannot be modified} A tensor that a shard holds but the index does not
     * name is left out.
     */
    public Set<String> names() {
        ensureOpen();
        return fileOf.keySet();
    }

    /**
     * Returns the type, shape and position of a tensor in the file that holds it; see {@link SafeTensors#info}.
     *
     * @param name the tensor's name, one of {@link #names()}
     * @return what the header of the tensor's file says about it
     * @throws IllegalArgumentException if there is no tensor {@code name}; the message lists the closest names
     */
    public TensorInfo info(String name) {
        return fileOf(name).info(name);
    }

    /**
     * Reads a tensor into a new CPU tensor of its stored type and shape; see {@link SafeTensors#tensor}.
     *
     * @param name the tensor's name, one of {@link #names()}
     * @return a new tensor holding a copy of the stored values
     * @throws IllegalArgumentException if there is no tensor {@code name}; the message lists the closest names
     * @throws UncheckedIOException if reading the file fails
     */
    public Tensor tensor(String name) {
        return fileOf(name).tensor(name);
    }

    /**
     * The tensor as stored, memory-mapped from the file that holds it, without reading it; see {@link
     * SafeTensors#mapped}.
     *
     * @param name the tensor's name, one of {@link #names()}
     * @return a CPU tensor of the stored type and shape over the file's bytes
     * @throws IllegalArgumentException if there is no tensor {@code name}; the message lists the closest names
     */
    public Tensor mapped(String name) {
        return fileOf(name).mapped(name);
    }

    /**
     * Copies a tensor into an existing tensor of exactly the same shape, converting the values to the
     * destination's type and device, with autograd off; see {@link SafeTensors#copyInto}.
     *
     * @param name the tensor's name, one of {@link #names()}
     * @param destination the tensor to overwrite, of any type and device, with the stored shape
     * @throws IllegalArgumentException if there is no tensor {@code name} (the message lists the closest
     *     names), or if the shapes differ (the message names the tensor, its file and both shapes)
     * @throws UncheckedIOException if reading the file fails
     */
    public void copyInto(String name, Tensor destination) {
        fileOf(name).copyInto(name, destination);
    }

    /**
     * Closes every file; tensors from {@link #mapped} stay valid. Closing again has no effect; every other
     * method then throws {@link IllegalStateException}.
     *
     * @throws IOException if a file fails to close; the others are closed all the same
     */
    @Override
    public void close() throws IOException {
        closed = true;
        IOException failure = null;
        for (SafeTensors file : files) {
            try {
                file.close();
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "Weights[" + folder + ", " + fileOf.size() + " tensors in " + files.size() + " files"
                + (closed ? ", closed]" : "]");
    }

    private SafeTensors fileOf(String name) {
        ensureOpen();
        SafeTensors file = fileOf.get(Objects.requireNonNull(name, "name"));
        if (file == null) {
            throw new IllegalArgumentException(Names.unknownTensor(name, fileOf.keySet(), folder));
        }
        return file;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(folder + " is closed");
        }
    }
}
