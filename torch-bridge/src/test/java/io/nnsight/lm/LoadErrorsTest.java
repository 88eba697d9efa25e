package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad model folders and inputs: each a clear error naming the file or value and what was expected. */
class LoadErrorsTest {
    @TempDir
    Path folder;

    private static Path stories() {
        return Shared.path("models/stories260K");
    }

    private void copyStories(String... files) throws IOException {
        for (String file : files) {
            Files.copy(stories().resolve(file), folder.resolve(file));
        }
    }

    private static void assertMessage(IllegalArgumentException error, String... parts) {
        for (String part : parts) {
            assertTrue(error.getMessage().contains(part), error.getMessage());
        }
    }

    @Test
    void load_missingFolder_namesIt() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.resolve("nowhere").toString()));

        assertMessage(error, "nowhere", "no model folder");
    }

    @Test
    void load_folderWithoutConfig_listsWhatItHolds() throws IOException {
        copyStories("tokenizer.json");

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "config.json", "tokenizer.json");
    }

    @Test
    void load_malformedConfig_namesTheFile() throws IOException {
        Files.writeString(folder.resolve("config.json"), "{ \"model_type\": \"llama\", ");

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "config.json", "not valid JSON");
    }

    @Test
    void load_configMissingAField_namesIt() throws IOException {
        Files.writeString(folder.resolve("config.json"), "{ \"model_type\": \"llama\", \"hidden_size\": 64 }");

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "num_attention_heads");
    }

    @Test
    void load_unknownArchitecture_listsTheKnownOnes() throws IOException {
        Files.writeString(folder.resolve("config.json"), "{ \"model_type\": \"mamba\" }");

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "'mamba'", "llama, mistral, mixtral, qwen2, qwen3, qwen2_moe, qwen3_moe, gemma2, gemma3_text, gemma3, phi3, olmo2, olmo3, olmoe, gpt_oss, gpt_neox, gpt2");
    }

    @Test
    void load_withoutWeights_saysWhatIsMissing() throws IOException {
        copyStories("config.json", "tokenizer.json");

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "model.safetensors");
    }

    @Test
    void load_weightsOfAnotherArchitecture_nameTheMissingParameters() throws IOException {
        copyStories("config.json", "tokenizer.json");
        Files.copy(Shared.path("fixtures/gpt2-tiny-random/model.safetensors"), folder.resolve("model.safetensors"));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "model.embed_tokens.weight", "architecture");
    }

    @Test
    void load_tokenizerOfAnotherModel_isRefused() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> LanguageModel.load(
                stories().toString(), LanguageModel.Options.defaults().tokenizer(Shared.path("tokenizers/gpt2/tokenizer.json"))));

        assertMessage(error, "50257", "512", "does not belong");
    }

    @Test
    void load_missingTokenizer_saysHowToGiveOne() throws IOException {
        copyStories("config.json", "model.safetensors");

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "tokenizer.json", "Options.tokenizer");
    }

    @Test
    void trace_promptLongerThanTheContext_givesBothLengths() {
        LanguageModel lm = LanguageModel.load(stories().toString());
        String longPrompt = "Once upon a time ".repeat(200);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(longPrompt, tr -> null));
        IllegalArgumentException generation = assertThrows(IllegalArgumentException.class,
                () -> lm.generate("Once upon a time", Generation.maxNewTokens(600)));

        assertMessage(error, "context of 512 tokens");
        assertMessage(generation, "plus 600 new tokens", "context of 512");
    }

    @Test
    void trace_unsupportedInput_saysWhatTheModelTakes() {
        LanguageModel lm = LanguageModel.load(stories().toString());

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(List.of(1, 2, 3), tr -> null));
        IllegalArgumentException ids = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(new long[] {1, 9999}, tr -> null));

        assertMessage(error, "String", "long[]");
        assertMessage(ids, "[0, 512)", "9999");
    }

    /** The files of fixture {@code name}, with its config changed by {@code change}. */
    private void fixture(String name, java.util.function.Consumer<JsonObject> change) {
        Shared.fixtureVariant(name, folder, change);
    }

    @Test
    void load_aRopeTypeNotImplemented_namesTheFieldAndTheTypesThatAre() throws IOException {
        fixture("llama3-bf16-tiny", config -> config.getAsJsonObject("rope_parameters").addProperty("rope_type",
                "proportional"));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "\"rope_parameters.rope_type\"", "'proportional'",
                "default, linear, dynamic, llama3, yarn, longrope");
    }

    @Test
    void load_aQuantizedCheckpoint_isRefusedNamingTheField() throws IOException {
        fixture("mistral-tiny", config -> {
            JsonObject quantization = new JsonObject();
            quantization.addProperty("quant_method", "bitsandbytes");
            config.add("quantization_config", quantization);
        });

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "\"quantization_config\"", "quantized", "quant_method: bitsandbytes");
    }

    @Test
    void load_fieldsThatChangeTheModel_withValuesNotImplemented_areRefusedByName() throws IOException {
        fixture("gemma2-tiny", config -> config.addProperty("hidden_activation", "xielu"));
        IllegalArgumentException activation = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));
        JsonObject config = JsonParser.parseString(Files.readString(Shared.path("fixtures/gemma2-tiny/config.json")))
                .getAsJsonObject();
        config.add("layer_types", JsonParser.parseString("[\"sliding_attention\", \"chunked_attention\", \"full_attention\"]"));
        Files.writeString(folder.resolve("config.json"), config.toString());
        IllegalArgumentException layerTypes = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertMessage(activation, "\"hidden_activation\"", "'xielu'", "gelu_pytorch_tanh");
        assertMessage(layerTypes, "\"layer_types\"", "'chunked_attention'", "sliding_attention");
    }

    @Test
    void load_weightsThatDoNotFit_listTheFirstMissingAndUnexpectedNames() throws IOException {
        fixture("qwen2-tiny", config -> config.addProperty("model_type", "qwen3"));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> LanguageModel.load(folder.toString()));

        assertMessage(error, "6 parameters have no weight (model.layers.0.self_attn.q_norm.weight", "9 weights fill no "
                + "parameter (", "model.layers.0.self_attn.q_proj.bias", ", ...)", "qwen3");
    }
}
