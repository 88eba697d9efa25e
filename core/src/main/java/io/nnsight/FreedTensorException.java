package io.nnsight;

/**
 * A tensor (or another native object) was used after its native memory had been freed.
 *
 * <p>Each trace owns the native memory of the tensors made while it runs and frees it when it ends, except
 * the tensors in its result and those passed to {@link NNsight#save}. So a tensor that a body put somewhere
 * else, such as into a list made outside the trace, is freed when the trace returns:
 *
 * <pre>{@code
 * List<Tensor> seen = new ArrayList<>();
 * model.trace(x, tr -> {
 *     seen.add(model.get("layer1").output());                 // freed when the trace ends
 *     seen.add(NNsight.save(model.get("layer2").output()));   // kept
 *     return model.get("head").output();                      // kept: the trace's result
 * });
 * }</pre>
 *
 * <p>To use a value after its trace, return it from the body or pass it to {@link NNsight#save}; in a
 * {@linkplain NNsight#session session}, values live until the session ends. A tensor made inside a {@code
 * PointerScope} of your own is freed when that scope closes.
 *
 * <p>nnsight throws this where a freed tensor reaches it (a trace's input, {@code setOutput(...)}, {@link
 * Tensors}). Bytedeco's own methods, called on a freed tensor, throw a {@code NullPointerException} saying
 * "This pointer address is NULL"; inside a trace body such an error gets a {@code FreedTensorException} as
 * its cause, which says the same as this.
 */
public class FreedTensorException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * An error about a freed tensor.
     *
     * @param what names the value, like {@code "the value given to layer1.setOutput(...)"}
     */
    public FreedTensorException(String what) {
        super(what + " was freed: a trace frees the tensors it made when it ends, except its result and the values "
                + "passed to NNsight.save(...). To use a tensor after its trace, return it from the trace body or save "
                + "it (seen.add(NNsight.save(tensor))); a tensor made inside a PointerScope of your own is freed when "
                + "that scope closes");
    }
}
