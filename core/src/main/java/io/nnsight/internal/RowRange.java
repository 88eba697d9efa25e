package io.nnsight.internal;

/**
 * The rows of the batch that belong to one invoke: {@code size} rows from {@code start}.
 *
 * @param start the first row
 * @param size the number of rows
 */
public record RowRange(int start, int size) {
    /** Whether these rows are all of a batch of {@code total} rows. */
    public boolean covers(int total) {
        return start == 0 && size == total;
    }

    /** One past the last row. */
    public int end() {
        return start + size;
    }

    @Override
    public String toString() {
        return size == 1 ? "row " + start : "rows " + start + ".." + (end() - 1);
    }
}
