package io.nnsight.cli;

import io.nnsight.Envoy;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The logit lens: what each layer's output would predict if the model stopped there (the final norm and
 * the output layer applied to it), at every position of a prompt.
 *
 * <p>Tokens are shown {@linkplain #visible visibly}: {@code ␣} for a space, {@code <0x0A>} for a newline.
 *
 * @param tokens the prompt's tokens, as text
 * @param top the top token at each layer (row) and position (column), as text
 * @param probability its probability
 */
record LogitLens(List<String> tokens, String[][] top, double[][] probability) {
    /** Runs the lens on {@code prompt}. */
    static LogitLens of(LanguageModel lm, String prompt) {
        long[] ids = lm.tokenizer().encode(prompt);
        List<String> tokens = new ArrayList<>();
        for (long id : ids) {
            tokens.add(visible(lm.tokenizer(), id));
        }
        String norm = lm.architecture().equals("llama") ? "model.norm" : "transformer.ln_f";
        Envoy layers = lm.get(lm.architecture().equals("llama") ? "model.layers" : "transformer.h");
        int count = layers.children().size();
        String[][] top = new String[count][ids.length];
        double[][] probability = new double[count][ids.length];
        lm.trace(ids, tr -> {
            int row = 0;
            for (Envoy layer : layers) {
                Tensor logits = lm.get("lm_head").call(lm.get(norm).call(layer.output())).select(0, 0);
                T_TensorTensor_T best = torch.softmax(logits, -1).max(-1);
                for (int position = 0; position < ids.length; position++) {
                    top[row][position] = visible(lm.tokenizer(), best.get1().select(0, position).item_long());
                    probability[row][position] = best.get0().select(0, position).item_double();
                }
                row++;
            }
            return null;
        });
        return new LogitLens(tokens, top, probability);
    }

    /** The lens as a text table: a row per layer, a column per prompt token. */
    String table() {
        List<List<String>> rows = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of("layer"));
        header.addAll(tokens);
        rows.add(header);
        for (int layer = 0; layer < top.length; layer++) {
            List<String> row = new ArrayList<>(List.of(Integer.toString(layer)));
            row.addAll(List.of(top[layer]));
            rows.add(row);
        }
        int[] widths = new int[header.size()];
        for (List<String> row : rows) {
            for (int i = 0; i < row.size(); i++) {
                widths[i] = Math.max(widths[i], row.get(i).length());
            }
        }
        StringBuilder text = new StringBuilder();
        for (List<String> row : rows) {
            for (int i = 0; i < row.size(); i++) {
                text.append(String.format("%-" + (widths[i] + 2) + "s", row.get(i)));
            }
            text.setLength(text.length() - 2);
            text.append('\n');
        }
        return text.toString();
    }

    /**
     * A token as the lens shows it: its text with each space as {@code ␣} (also the word boundary that
     * SentencePiece tokenizers mark with {@code ▁} and drop when decoding one token) and each control
     * character as its byte ({@code <0x0A>} for a newline); a token that is only a byte of a character, or has
     * no text, by its vocabulary entry ({@code <0xE2>}); an id the tokenizer does not know as {@code #id}.
     */
    static String visible(Tokenizer tokenizer, long id) {
        String piece;
        try {
            piece = tokenizer.piece(id);
        } catch (IllegalArgumentException unknown) {
            return "#" + id;
        }
        String text = tokenizer.token(id);
        if (text.isEmpty() || text.indexOf('\uFFFD') >= 0) {
            return piece.replace('\u2581', '\u2423');
        }
        if (piece.startsWith("\u2581") && !text.startsWith(" ")) {
            text = " " + text;
        }
        StringBuilder shown = new StringBuilder();
        text.codePoints().forEach(c -> {
            if (c == ' ') {
                shown.append('\u2423');
            } else if (c < 0x20 || c == 0x7f) {
                shown.append(String.format("<0x%02X>", c));
            } else {
                shown.appendCodePoint(c);
            }
        });
        return shown.toString();
    }
}
