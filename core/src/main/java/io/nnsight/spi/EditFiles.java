package io.nnsight.spi;

import io.nnsight.NNsight;
import io.nnsight.TraceBody;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a wrapper's edits to a file and reads them back: what {@link NNsight#exportEdits} and {@link
 * NNsight#importEdits} call. Edits are code, so a file holds their class files and captured values, and
 * reading one must check that code before any of it is loaded.
 *
 * <p>Found with {@link java.util.ServiceLoader} on the class loader of {@code NNsight}; the model server's
 * sandbox ({@code nnsight-remote-sandbox}) provides it, writing edits as a job travels to a server and checking
 * imported code with the server's allow-list. Users call the methods of {@code NNsight}; they never see this.
 */
public interface EditFiles {
    /**
     * Writes {@code edits}, the edits of {@code model}, to {@code file}, replacing it.
     *
     * @throws IllegalArgumentException when an edit uses something that cannot be written, saying what and why
     * @throws IOException when the file cannot be written
     */
    void write(NNsight model, List<TraceBody<?>> edits, Path file) throws IOException;

    /**
     * Reads the edits in {@code file}, written for a model of {@code model}'s key, and loads them for {@code
     * model}.
     *
     * @throws IllegalArgumentException when the file is not a file of edits, was changed since it was written,
     *     was written for another model, or its code uses what imported code may not, saying which
     * @throws IOException when the file cannot be read
     */
    List<TraceBody<?>> read(NNsight model, Path file) throws IOException;
}
