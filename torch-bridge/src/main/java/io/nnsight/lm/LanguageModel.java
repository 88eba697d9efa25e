package io.nnsight.lm;

import io.nnsight.Backend;
import io.nnsight.Envoy;
import io.nnsight.Inputs;
import io.nnsight.NNsight;
import io.nnsight.Tensors;
import io.nnsight.TraceBody;
import io.nnsight.hub.DownloadListener;
import io.nnsight.hub.HubClient;
import io.nnsight.lm.decoder.DecoderForCausalLM;
import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.Placement;
import io.nnsight.lm.families.Families;
import io.nnsight.lm.families.Family;
import io.nnsight.lm.families.HfConfig;
import io.nnsight.lm.internal.ContinuousGenerationRunner;
import io.nnsight.lm.internal.GenerationRunner;
import io.nnsight.lm.internal.GeneratorModule;
import io.nnsight.lm.internal.PromptInputs;
import io.nnsight.lm.internal.WeightLoader;
import io.nnsight.safetensors.DType;
import io.nnsight.spi.ContinuousBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;

/**
 * A causal language model with Hugging Face's module names and weights, its tokenizer, and generation:
 * nnsight's {@code LanguageModel}.
 *
 * <pre>{@code
 * LanguageModel lm = LanguageModel.load("path/to/stories260K");       // a Hugging Face model folder
 * Tensor logits = lm.trace("Once upon a time", tr -> lm.get("lm_head").output());
 *
 * List<Tensor> steps = lm.generate("Once upon a time", Generation.maxNewTokens(5), tr -> {
 *     List<Tensor> tokens = new ArrayList<>();
 *     for (int step : tr.all()) {
 *         tokens.add(lm.get("generator.streamer").output());   // the token chosen at this step
 *     }
 *     return tokens;
 * });
 * }</pre>
 *
 * <p><b>Inputs</b> of {@code trace}, {@code generate} and their invokes: a prompt ({@code String}), several
 * prompts ({@code List<String>}), token ids ({@code long[]}, {@code int[]}, {@code long[][]} or an integer
 * {@code Tensor}), or {@link Inputs} with named {@code input_ids} and {@code attention_mask}. Prompts of
 * different lengths are padded on the left, with an attention mask and positions counted from each
 * prompt's first real token, so a batched prompt gives the same logits as the prompt alone. The model's
 * root takes the named inputs {@code input_ids}, {@code attention_mask} and {@code past_key_values} and
 * returns the logits, {@code [batch, tokens, vocab]}.
 *
 * <p><b>Architectures</b> ({@code config.json}'s {@code model_type}, see {@link Families}): {@code llama} (with
 * {@code llama3}, {@code linear}, {@code dynamic} and {@code yarn} rope scaling), {@code mistral}, {@code qwen2},
 * {@code qwen3}, {@code gemma2}, {@code gemma3_text} and {@code gemma3} (Gemma 3, the image-text models for text),
 * {@code phi3} (with {@code longrope}), {@code olmo2}, {@code olmo3}, {@code gpt_neox} (Pythia), {@code gpt2}, and
 * the mixtures of experts {@code mixtral}, {@code qwen2_moe}, {@code qwen3_moe}, {@code olmoe} and {@code gpt_oss}
 * (GPT-OSS; its MXFP4 checkpoints load dequantized), with transformers' module paths:
 * {@code model.layers.N.self_attn}, {@code gpt_neox.layers.N.attention}, {@code transformer.h.N.attn}...
 * ({@link #paths()} gives each family's), and with standard names, the same in every family, as aliases ({@link
 * #rename}): {@code embed}, {@code layers.N}, {@code layers.N.attn}, {@code layers.N.mlp}, {@code ln_final} and
 * {@code lm_head}, so that one recipe runs on every architecture. Every attention has a child {@code attention_probs} whose output is the
 * attention pattern, {@code [batch, heads, queries, keys]}, readable and replaceable in a trace.
 *
 * <p><b>Weights</b> load from {@code model.safetensors} or a sharded index, memory-mapped when they are stored in
 * the type the model runs in, in the type and on the device {@link Options} choose: by default the checkpoint's
 * type ({@code config.json}'s {@code dtype}), as transformers 5 loads it, on the CPU. The model runs in evaluation
 * mode.
 *
 * <p><b>Scans</b> ({@link #scan}) run a body on a copy of the model on libtorch's meta device, built at the first
 * scan: every value has its real shape and type and no values, and nothing is computed. A model loaded with {@code
 * Options.device("meta")} has no weights at all (nothing of them is read or downloaded): it scans, and traces shapes.
 *
 * <p><b>Generation:</b> each step is one forward pass, so step {@code n} is iteration {@code n} of every
 * module (step 0 runs the prompt); see {@link io.nnsight.Tracer#iter}. {@code generator.streamer} is called
 * at each step with the new tokens, and {@code generator} once at the end with all ids.
 */
public final class LanguageModel extends NNsight {
    private static final String META = "meta";
    private static final Pattern REPOSITORY_ID = Pattern.compile("[A-Za-z0-9][\\w.-]*(/[\\w.-]+)?");

    private final DecoderForCausalLM model;
    private final Family family;
    private final Tokenizer tokenizer;
    private final PromptInputs batching;
    private final GeneratorModule generator;
    private final long[] eos;
    private final Path folder;
    private final String architecture;
    private final String key;
    /** The copy of this model on the meta device that scans run, made at the first scan; shared by copies. */
    private final AtomicReference<LanguageModel> metaTwin;

    /** A copy for {@link #edit} and {@link #on}: shares everything, as {@link NNsight#NNsight(NNsight)} says. */
    private LanguageModel(LanguageModel original) {
        super(original);
        this.model = original.model;
        this.family = original.family;
        this.tokenizer = original.tokenizer;
        this.batching = original.batching;
        this.generator = original.generator;
        this.eos = original.eos;
        this.folder = original.folder;
        this.architecture = original.architecture;
        this.key = original.key;
        this.metaTwin = original.metaTwin;
    }

    private LanguageModel(DecoderForCausalLM model, Family family, Tokenizer tokenizer, PromptInputs batching,
            GeneratorModule generator, long[] eos, Path folder, String architecture, String key) {
        super(model, batching, model::forward, Map.of("generator", generator));
        this.model = model;
        this.family = family;
        this.tokenizer = tokenizer;
        this.batching = batching;
        this.generator = generator;
        this.eos = eos;
        this.folder = folder;
        this.architecture = architecture;
        this.key = key;
        this.metaTwin = new AtomicReference<>();
        rename(family.paths().standardNames());
    }

    /**
     * Options of {@link #load(String, Options)}; immutable, each method returns a changed copy.
     *
     * <pre>{@code
     * LanguageModel.load("EleutherAI/pythia-70m", LanguageModel.Options.defaults().dtype(DType.F32));
     * LanguageModel.load("google/gemma-2-2b", LanguageModel.Options.defaults().device("cuda"));
     * }</pre>
     */
    public static final class Options {
        private final Path tokenizer;
        private final String revision;
        private final HubClient hub;
        private final DType dtype;
        private final String device;

        private Options(Path tokenizer, String revision, HubClient hub, DType dtype, String device) {
            this.tokenizer = tokenizer;
            this.revision = revision;
            this.hub = hub;
            this.dtype = dtype;
            this.device = device;
        }

        /**
         * The defaults: the folder's own {@code tokenizer.json}; the checkpoint's type ({@code config.json}'s
         * {@code dtype}, else the type of its weights), as transformers 5 loads a model; the CPU; for a hub id,
         * the {@code main} revision and a hub client configured from the environment ({@code HF_ENDPOINT}, {@code
         * HF_TOKEN}, {@code HF_HOME}, {@code HF_HUB_OFFLINE}) that shows a progress bar on a terminal.
         */
        public static Options defaults() {
            return new Options(null, HubClient.DEFAULT_REVISION, null, null, "cpu");
        }

        /** Uses another {@code tokenizer.json} than the model folder's. */
        public Options tokenizer(Path tokenizerJson) {
            return new Options(Objects.requireNonNull(tokenizerJson, "tokenizerJson"), revision, hub, dtype, device);
        }

        /** For a hub id: the branch, tag or commit to download. */
        public Options revision(String revision) {
            return new Options(tokenizer, Objects.requireNonNull(revision, "revision"), hub, dtype, device);
        }

        /** For a hub id: the client that downloads it (another endpoint, cache or token). */
        public Options hub(HubClient client) {
            return new Options(tokenizer, revision, Objects.requireNonNull(client, "client"), dtype, device);
        }

        /**
         * The type of the weights and activations, whatever the checkpoint stores: {@link DType#F32}, {@link
         * DType#BF16}, {@link DType#F16} (or {@link DType#F64}); transformers' {@code torch_dtype}. Weights stored
         * in another type are converted as they load.
         *
         * @throws IllegalArgumentException for a type that is not floating-point, naming those that are
         */
        public Options dtype(DType dtype) {
            Objects.requireNonNull(dtype, "dtype");
            if (!dtype.isFloatingPoint()) {
                throw new IllegalArgumentException("a model runs in a floating-point type, not " + dtype + ": use F32, "
                        + "BF16, F16 or F64");
            }
            return new Options(tokenizer, revision, hub, dtype, device);
        }

        /**
         * The device the model runs on: {@code "cpu"} (the default), {@code "cuda"} (the first GPU) or {@code
         * "cuda:N"}. Every tensor the model and the library make (inputs, masks, positions, the key/value cache,
         * generation state) is made there; inputs given as tensors elsewhere are moved there.
         *
         * <p>{@code "meta"} builds the model without its weights, on libtorch's meta device, from {@code config.json}
         * and the tokenizer alone (the folder needs no weights): nnsight's {@code dispatch=False}, for a model too
         * big for this machine. It {@linkplain #scan scans}, and its traces give every value's shape and type
         * without computing, in no memory; it cannot generate.
         *
         * @throws IllegalArgumentException for a device this JVM does not have, saying which it has: CUDA needs the
         *     build's {@code cuda} profile (Bytedeco's CUDA build of libtorch) and a GPU with its driver
         */
        public Options device(String device) {
            Objects.requireNonNull(device, "device");
            return new Options(tokenizer, revision, hub, dtype,
                    device.trim().equalsIgnoreCase(META) ? META : Placement.checkDevice(device));
        }
    }

    /** Loads the model in a Hugging Face model folder; see {@link #load(String, Options)}. */
    public static LanguageModel load(String model) {
        return load(model, Options.defaults());
    }

    /**
     * Loads a model: from a Hugging Face model folder ({@code config.json}, {@code model.safetensors} or
     * {@code model.safetensors.index.json} and its shards, {@code tokenizer.json} and, if present, {@code
     * generation_config.json}), or, when {@code model} is no folder, from the Hugging Face hub by repository
     * id ({@code openai-community/gpt2}), downloaded once into the standard cache.
     *
     * @throws IllegalArgumentException when the folder is missing or incomplete, the download fails, the
     *     architecture is not implemented, the weights do not fit the architecture, or the tokenizer does not
     *     fit the model
     */
    public static LanguageModel load(String model, Options options) {
        Path folder = locate(model, options);
        Path configFile = folder.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new IllegalArgumentException(folder + " has no config.json, so it is not a Hugging Face model folder; "
                    + "it holds " + listing(folder));
        }
        HfConfig config = HfConfig.read(configFile);
        Family family = Families.of(config);
        DecoderSpec spec = family.decoder(config);
        HfConfig generationConfig = Files.isRegularFile(folder.resolve("generation_config.json"))
                ? HfConfig.read(folder.resolve("generation_config.json"))
                : null;
        long[] eos = pick(generationConfig, config, "eos_token_id");
        long[] bos = pick(generationConfig, config, "bos_token_id");
        long[] pad = pick(generationConfig, config, "pad_token_id");
        boolean meta = options.device.equals(META);
        DType dtype = options.dtype != null ? options.dtype : checkpointType(config, folder, meta);
        DecoderForCausalLM causal = new DecoderForCausalLM(spec, meta ? Placement.meta(dtype) : Placement.of(dtype,
                options.device));
        if (!meta) {
            WeightLoader.load(causal, family, folder);
        }
        causal.eval();
        Path tokenizerFile = options.tokenizer != null ? options.tokenizer : folder.resolve("tokenizer.json");
        Tokenizer tokenizer = Tokenizer.load(tokenizerFile, bos.length > 0 ? bos[0] : -1, eos.length > 0 ? eos[0] : -1,
                pad.length > 0 ? pad[0] : -1);
        if (tokenizer.vocabularySize() > causal.vocabularySize()) {
            throw new IllegalArgumentException(tokenizerFile + " has " + tokenizer.vocabularySize() + " tokens but the "
                    + "model's vocabulary has " + causal.vocabularySize() + " (config.json vocab_size): the tokenizer does "
                    + "not belong to this model");
        }
        PromptInputs batching = new PromptInputs(tokenizer, causal.contextLength(), causal.placement());
        String key = Files.isDirectory(Path.of(model)) ? folder.toAbsolutePath().normalize().getFileName().toString()
                : options.revision.equals(HubClient.DEFAULT_REVISION) ? model : model + "@" + options.revision;
        return new LanguageModel(causal, family, tokenizer, batching, new GeneratorModule(), eos, folder,
                config.modelType(), key);
    }

    /**
     * The type transformers 5 loads a checkpoint in by default: its config's {@code dtype}, else its weights' (if
     * they are read).
     */
    private static DType checkpointType(HfConfig config, Path folder, boolean withoutWeights) {
        DType configured = config.dtype();
        DType stored = configured != null || withoutWeights ? configured : WeightLoader.storedType(folder);
        return stored != null && stored.isFloatingPoint() ? stored : DType.F32;
    }

    private static Path locate(String model, Options options) {
        Path folder = Path.of(model);
        if (Files.isDirectory(folder)) {
            return folder;
        }
        if (!REPOSITORY_ID.matcher(model).matches()) {
            throw new IllegalArgumentException("no model folder at " + folder.toAbsolutePath() + ": give the path of a "
                    + "Hugging Face model folder (with config.json, model.safetensors and tokenizer.json), or a hub "
                    + "repository id such as openai-community/gpt2");
        }
        HubClient hub = options.hub != null
                ? options.hub
                : HubClient.fromEnvironment().withListener(DownloadListener.consoleProgressBar());
        try {
            return options.device.equals(META) ? hub.downloadModelWithoutWeights(model, options.revision)
                    : hub.downloadModel(model, options.revision);
        } catch (IOException e) {
            throw new IllegalArgumentException("no model folder at " + folder.toAbsolutePath() + ", and the Hugging Face "
                    + "hub could not provide '" + model + "': " + e.getMessage(), e);
        }
    }

    private static long[] pick(HfConfig preferred, HfConfig fallback, String key) {
        long[] ids = preferred == null ? new long[0] : preferred.tokenIds(key);
        return ids.length > 0 ? ids : fallback.tokenIds(key);
    }

    private static String listing(Path folder) {
        try (Stream<Path> files = Files.list(folder)) {
            List<String> names = files.map(path -> path.getFileName().toString()).sorted().collect(Collectors.toList());
            return names.isEmpty() ? "nothing" : String.join(", ", names);
        } catch (IOException e) {
            return "files that cannot be listed (" + e.getMessage() + ")";
        }
    }

    /** The tokenizer. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The architecture: {@code config.json}'s {@code model_type}, such as {@code "llama"} or {@code "gpt_neox"}. */
    public String architecture() {
        return architecture;
    }

    /** The family of the architecture: how it was read and built, where its main modules are. */
    public Family family() {
        return family;
    }

    /**
     * Where the architecture keeps its main modules: the embedding, the layers, a layer's attention and MLP, the
     * final norm and the output layer, as transformers names them.
     *
     * <pre>{@code
     * Tensor hidden = lm.trace(prompt, tr -> lm.get(lm.paths().layer(2)).output());   // any family
     * }</pre>
     */
    public ModulePaths paths() {
        return family.paths();
    }

    /** The type of the weights and activations. */
    public DType dtype() {
        return model.placement().dtype();
    }

    /** The device the model runs on: {@code "cpu"}, {@code "cuda:0"}..., or {@code "meta"} (loaded without weights). */
    public String device() {
        return model.placement().device();
    }

    /** The folder the model was loaded from. */
    public Path folder() {
        return folder;
    }

    /**
     * The name a model server knows this model by: the hub repository id it was loaded by ({@code
     * openai-community/gpt2}, with {@code @revision} unless {@code main}), or the name of its folder.
     */
    @Override
    public String key() {
        return key;
    }

    /** The number of decoder layers. */
    public int layerCount() {
        return model.layers();
    }

    /** The envoy of the generator: its output is all ids of a generation; {@code streamer}'s, each step's tokens. */
    public Envoy generator() {
        return get("generator");
    }

    /**
     * Generates from {@code input} with {@code body} interleaved, and returns the body's result.
     *
     * @param input a prompt, prompts or token ids (see the class description), or options-free {@code null}
     *     is not allowed: use {@link #generate(Generation, TraceBody)} to generate from invokes
     */
    public <R> R generate(Object input, Generation generation, TraceBody<R> body) {
        Objects.requireNonNull(input, "input: to generate from several invokes, call generate(generation, body)");
        return generateWith(input, generation, body);
    }

    /**
     * Generates from the inputs of the body's invokes, all together: the body runs first and calls {@code
     * tr.invoke(prompt, ...)} for each prompt.
     */
    public <R> R generate(Generation generation, TraceBody<R> body) {
        return generateWith(null, generation, body);
    }

    private <R> R generateWith(Object input, Generation generation, TraceBody<R> body) {
        Objects.requireNonNull(generation, "generation");
        Objects.requireNonNull(body, "body");
        if (model.placement().isMeta()) {
            throw new IllegalStateException(key + " was loaded on the meta device, without weights: it scans and "
                    + "traces shapes but cannot choose tokens; load it with device(\"cpu\") or \"cuda\" to generate");
        }
        Backend backend = backend();
        return backend == null ? trace(input, body, loop(generation))
                : backend.run(new GenerateJob<>(local(), input, generation, body));
    }

    /**
     * A copy of this language model whose every trace and generation runs {@code body} first; see {@link
     * NNsight#edit(TraceBody)}. In a generation, an edit that loops over {@code tr.all()} applies at every
     * step.
     *
     * <pre>{@code
     * LanguageModel steered = lm.edit(tr -> {
     *     for (int step : tr.all()) {
     *         lm.get("model.layers.3.mlp").output().add_(direction);
     *     }
     *     return null;
     * });
     * Generated text = steered.generate("Once upon a time", Generation.maxNewTokens(20));
     * }</pre>
     */
    @Override
    public LanguageModel edit(TraceBody<?> body) {
        return (LanguageModel) super.edit(body);
    }

    @Override
    public LanguageModel withoutEdits() {
        return (LanguageModel) super.withoutEdits();
    }

    @Override
    public LanguageModel importEdits(Path file) throws IOException {
        return (LanguageModel) super.importEdits(file);
    }

    /**
     * A view of this language model whose traces, sessions and generations run on {@code backend}; see {@link
     * NNsight#on(Backend)}.
     *
     * <pre>{@code
     * List<Long> ids = lm.on(server).generate("Once upon a time", Generation.maxNewTokens(5), tr -> ...);
     * }</pre>
     */
    @Override
    public LanguageModel on(Backend backend) {
        return (LanguageModel) super.on(backend);
    }

    @Override
    public LanguageModel local() {
        return (LanguageModel) super.local();
    }

    /**
     * The same model built on the meta device, with its tokenizer: {@link #scan} runs on it. Made at the first
     * scan, in about the time of building the modules, with no weight read and none allocated.
     */
    @Override
    protected LanguageModel metaTwin() {
        if (model.placement().isMeta()) {
            return this;
        }
        synchronized (metaTwin) { // shared by copies: one twin, built once
            if (metaTwin.get() == null) {
                DecoderForCausalLM meta = model.onMeta();
                metaTwin.set(new LanguageModel(meta, family, tokenizer, new PromptInputs(tokenizer, meta.contextLength(),
                        meta.placement()), new GeneratorModule(), eos, folder, architecture, key));
            }
            return metaTwin.get();
        }
    }

    @Override
    protected LanguageModel copy() {
        return new LanguageModel(this);
    }

    /** Generates from {@code input}: the ids and texts. */
    public Generated generate(Object input, Generation generation) {
        Tensor tokens = generate(input, generation, tr -> generator().output());
        int prompt = (int) batching.prepare(input).inputs().tensor("input_ids").size(1);
        List<String> texts = new ArrayList<>();
        for (long row = 0; row < tokens.size(0); row++) {
            long[] ids = Tensors.longs(tokens.select(0, row));
            // Decoding the whole sequence keeps the spaces a tokenizer attaches to a word's first token.
            String all = tokenizer.decode(ids);
            String before = tokenizer.decode(java.util.Arrays.copyOf(ids, prompt));
            texts.add(all.startsWith(before) ? all.substring(before.length())
                    : tokenizer.decode(java.util.Arrays.copyOfRange(ids, prompt, ids.length)));
        }
        return new Generated(tokens, texts);
    }

    /**
     * The generation loop of a continuous batch of this model ({@link ContinuousBatch}), whose members' options are
     * their {@link Generation}s: generations join at step boundaries and leave when done, each getting the tokens
     * it gets alone (greedy, or sampled with its own seed), logits within float rounding.
     *
     * <pre>{@code
     * lm.generationRunner().ifPresent(runner -> ContinuousBatch.run(lm, runner, feed, 256));
     * }</pre>
     *
     * @return the loop, or empty when this model's rows are not independent of the batch's lengths ({@code dynamic}
     *     and {@code longrope} rotary scaling) or it lives on the meta device: then run each generation alone
     */
    public Optional<ContinuousBatch.Runner> generationRunner() {
        if (model.positionsDependOnLength() || model.placement().isMeta()) {
            return Optional.empty();
        }
        return Optional.of(new ContinuousGenerationRunner(model, (GeneratorModule) generator().module(), batching, eos,
                tokenizer.pad()));
    }

    private GenerationRunner loop(Generation generation) {
        Objects.requireNonNull(generation, "generation");
        return new GenerationRunner(model, (GeneratorModule) generator().module(), generation, batching, eos, tokenizer.pad());
    }
}
