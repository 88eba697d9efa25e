package io.nnsight.cli;

import io.nnsight.Envoy;
import io.nnsight.Tensors;
import io.nnsight.lm.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.pytorch.Tensor;

/**
 * Attribution patching over every layer and prompt position, from one forward and one backward pass: how much
 * each layer's output at each position contributes, to first order, to the model's preference for its top next
 * token over its second ({@code (gradient * output).sum(-1)} of the logit difference).
 *
 * @param tokens the prompt's tokens, as text
 * @param top the model's top next token after the prompt, as text
 * @param second its second-best, as text
 * @param values the attribution at each layer (row) and position (column)
 */
record Attribution(List<String> tokens, String top, String second, double[][] values) {
    /** Attributes the logit difference of the two next tokens {@code lm} likes best after {@code prompt}. */
    static Attribution of(LanguageModel lm, String prompt) {
        long[] ids = lm.tokenizer().encode(prompt);
        List<String> tokens = new ArrayList<>();
        for (long id : ids) {
            tokens.add(lm.tokenizer().token(id));
        }
        Envoy layers = lm.get(lm.architecture().equals("llama") ? "model.layers" : "transformer.h");
        List<Envoy> blocks = layers.children();
        long[] best = new long[2];
        List<Tensor> attributions = lm.trace(ids, tr -> {
            List<Tensor> outputs = new ArrayList<>();
            for (Envoy block : blocks) {
                outputs.add(block.output());
            }
            Tensor last = lm.get("lm_head").output().select(0, 0).select(0, ids.length - 1);
            Tensors.TopK topTwo = Tensors.topK(last, 2);
            best[0] = topTwo.index(0);
            best[1] = topTwo.index(1);
            Tensor metric = last.select(0, best[0]).sub(last.select(0, best[1]));
            return tr.backward(metric, () -> {
                Tensor[] byLayer = new Tensor[blocks.size()];
                for (int layer = blocks.size() - 1; layer >= 0; layer--) { // backward reaches the last layer first
                    byLayer[layer] = blocks.get(layer).grad().mul(outputs.get(layer)).sum(-1).select(0, 0);
                }
                return List.of(byLayer);
            });
        });
        double[][] values = new double[attributions.size()][];
        for (int layer = 0; layer < values.length; layer++) {
            values[layer] = Tensors.doubles(attributions.get(layer));
        }
        return new Attribution(tokens, lm.tokenizer().token(best[0]), lm.tokenizer().token(best[1]), values);
    }

    /** The metric, in words. */
    String metric() {
        return "logit('" + top + "') - logit('" + second + "')";
    }

    /** The attributions as a text table: a row per layer, a column per prompt token. */
    String table() {
        List<List<String>> rows = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of("layer"));
        tokens.forEach(token -> header.add(token.isEmpty() ? "''" : token.replace("\n", "\\n")));
        rows.add(header);
        for (int layer = 0; layer < values.length; layer++) {
            List<String> row = new ArrayList<>(List.of(Integer.toString(layer)));
            for (double value : values[layer]) {
                row.add(String.format(Locale.ROOT, "%.3f", value));
            }
            rows.add(row);
        }
        int[] widths = new int[header.size()];
        for (List<String> row : rows) {
            for (int i = 0; i < row.size(); i++) {
                widths[i] = Math.max(widths[i], row.get(i).length());
            }
        }
        StringBuilder text = new StringBuilder("attribution of " + metric() + "\n");
        for (List<String> row : rows) {
            for (int i = 0; i < row.size(); i++) {
                text.append(String.format("%-" + (widths[i] + 2) + "s", row.get(i)));
            }
            text.setLength(text.length() - 2);
            text.append('\n');
        }
        return text.toString();
    }
}
