package io.nnsight.remote;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.nnsight.NNsight;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.Versions;
import io.nnsight.remote.internal.shipping.Shipment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Questions to ask a model server before and while sending it work: what differs between this JVM and the
 * server, what the server is doing, and which library code to ship along. nnsight's {@code ndif.compare},
 * {@code ndif.status} and {@code ndif.register}, for servers started with {@code nnsight serve}.
 *
 * <pre>{@code
 * Remote server = Remote.on("http://gpu-box:8642");
 * System.out.println(Ndif.compare(server, lm));   // versions here and there; '!' marks what matters
 * System.out.println(Ndif.status(server));        // each hosted model: its state, jobs waiting, a job running
 * Ndif.register("com.example.probes");           // a library the server lacks: ship its classes with jobs
 * }</pre>
 *
 * <p><b>Compare.</b> A job runs when client and server speak the same protocol: their nnsight versions must
 * share major and minor version, or the server refuses every job. The server's Java must also load the
 * classes the job ships: a class compiled for a newer Java than the server's is rewritten down to the
 * server's version when everything it uses exists there, and refused otherwise. {@link #compare(Remote,
 * NNsight...)} puts these side by side, with Bytedeco's and libtorch's versions (which may make results
 * differ in the last digits, nothing more) and the models the server hosts, and says which differences
 * stop jobs. Pass your local models to see whether the server hosts each under its {@linkplain NNsight#key()
 * key}, and with the same architecture.
 *
 * <p><b>Status.</b> {@link #status(Remote)} lists the hosted models: whether each takes jobs, how many
 * jobs wait for it and whether one runs. A model runs one job at a time, so the queue says how long yours
 * will wait.
 *
 * <p><b>Register.</b> The code of a job travels with it, but only your application's classes travel: the
 * JDK's and nnsight's are the server's own, and a library jar's stay behind (shipped code sees only the
 * server's allow-list, so a library it uses must travel). When your body uses a library (your lab's probing
 * library, packaged as a jar), {@link #register} its package and its classes travel too, checked by the
 * server's sandbox like your own. The library must be on the class path
 * of the code that holds the body (as a jar on your application's class path is), since that is where the
 * client looks for its class files.
 *
 * <p>{@link #compare()} and {@link #status()} ask the server of {@link Remote#fromEnvironment()}. Neither
 * needs an API key.
 */
public final class Ndif {
    private static final Pattern PACKAGE = Pattern.compile("\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*"
            + "(\\.\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*)*");

    private Ndif() {}

    /**
     * Ships the classes of {@code packagePrefix} and its subpackages with every job, though they come from
     * a library jar: for a library the server does not have. Its classes are then shipped like your own
     * (whole, or sliced to what the body reaches) and checked by the server's sandbox. Affects every
     * {@link Remote} of this JVM, {@link Remote#local()} included, from the next job on.
     *
     * <pre>{@code
     * Ndif.register("com.example.probes");   // com.example.probes.Probe, com.example.probes.util.Heads...
     * }</pre>
     *
     * @param packagePrefix a package name such as {@code com.example.probes}
     * @throws IllegalArgumentException when {@code packagePrefix} is not a package name, or names nnsight's
     *     own packages (the server has them)
     */
    public static void register(String packagePrefix) {
        Objects.requireNonNull(packagePrefix, "packagePrefix");
        String name = packagePrefix.strip();
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        if (!PACKAGE.matcher(name).matches()) {
            throw new IllegalArgumentException("not a package name: '" + packagePrefix
                    + "' (expected a name such as com.example.probes)");
        }
        if ("io.nnsight.".startsWith(name + ".") || name.startsWith("io.nnsight.")) {
            throw new IllegalArgumentException("'" + name + "' holds nnsight's own classes, which every server has: "
                    + "register the package of the library the server lacks");
        }
        Shipment.register(name + ".");
    }

    /** {@link #compare(Remote, NNsight...)} with the server of {@link Remote#fromEnvironment()}. */
    public static Comparison compare() {
        return compare(Remote.fromEnvironment());
    }

    /**
     * This JVM and {@code server} side by side: Java, nnsight, Bytedeco and libtorch versions, and the
     * hosted models; with {@code models}, whether the server hosts each of them too. Print it to see the
     * table.
     *
     * @throws RemoteException when the server cannot be reached or does not answer as an nnsight server
     * @throws IllegalArgumentException for {@link Remote#local()}, which has no server
     */
    public static Comparison compare(Remote server, NNsight... models) {
        JsonObject env = transport(server, "compare with").env();
        List<Row> rows = new ArrayList<>();

        int localJava = Versions.javaFeature();
        Integer serverJava = integer(env, "javaFeature");
        boolean newerHere = serverJava != null && localJava > serverJava;
        rows.add(new Row("Java", String.valueOf(localJava), serverJava == null ? "unknown" : serverJava.toString(),
                newerHere, newerHere
                        ? "classes compiled for Java " + localJava + " are rewritten down to Java " + serverJava
                                + ", or refused if they use what it lacks"
                        : ""));

        String serverNnsight = string(env, "nnsight");
        boolean compatible = Protocol.compatible(Protocol.VERSION, serverNnsight);
        rows.add(new Row("nnsight", Protocol.VERSION, serverNnsight, !compatible, compatible
                ? ""
                : "incompatible: the server refuses every job of this client (same major.minor version needed)"));

        String bytedeco = Versions.bytedeco();
        String serverBytedeco = string(env, "bytedeco");
        rows.add(new Row("Bytedeco", bytedeco, serverBytedeco, false, bytedeco.equals(serverBytedeco) ? ""
                : "differs: jobs run, tensors travel as bytes"));
        String libtorch = Versions.libtorch();
        String serverLibtorch = string(env, "libtorch");
        rows.add(new Row("libtorch", libtorch, serverLibtorch, false, libtorch.equals(serverLibtorch) ? ""
                : "differs: results may differ in the last digits"));

        Map<String, String> hosted = new LinkedHashMap<>();
        JsonElement hostedModels = env.get("models");
        if (hostedModels != null && hostedModels.isJsonObject()) {
            hostedModels.getAsJsonObject().entrySet().forEach(entry -> hosted.put(entry.getKey(),
                    entry.getValue().isJsonObject() ? string(entry.getValue().getAsJsonObject(), "architecture") : "unknown"));
        }
        Map<String, String> local = new LinkedHashMap<>();
        for (NNsight model : models) {
            local.putIfAbsent(Objects.requireNonNull(model, "model").key(), Versions.architecture(model));
        }
        local.forEach((key, architecture) -> {
            String there = hosted.get(key);
            if (there == null) {
                rows.add(new Row("model " + key, architecture, "not hosted", true, "traces on it fail there; the server hosts "
                        + (hosted.isEmpty() ? "no model" : String.join(", ", hosted.keySet()))));
            } else {
                boolean same = there.equals(architecture);
                rows.add(new Row("model " + key, architecture, there, !same, same ? ""
                        : "another architecture under the same key: traces run on the server's"));
            }
        });
        hosted.forEach((key, architecture) -> {
            if (!local.containsKey(key)) {
                rows.add(new Row("model " + key, "-", architecture, false, ""));
            }
        });
        return new Comparison(server.url(), rows);
    }

    /** {@link #status(Remote)} of the server of {@link Remote#fromEnvironment()}. */
    public static Status status() {
        return status(Remote.fromEnvironment());
    }

    /**
     * The models {@code server} hosts, each with its state, the jobs waiting for it and whether one runs.
     * Print it to see the table.
     *
     * @throws RemoteException when the server cannot be reached or does not answer as an nnsight server
     * @throws IllegalArgumentException for {@link Remote#local()}, which has no server
     */
    public static Status status(Remote server) {
        JsonObject status = transport(server, "ask the status of").status();
        List<ModelStatus> models = new ArrayList<>();
        JsonElement list = status.get("models");
        if (list != null && list.isJsonArray()) {
            for (JsonElement element : list.getAsJsonArray()) {
                if (element.isJsonObject()) {
                    JsonObject model = element.getAsJsonObject();
                    Integer queued = integer(model, "queued");
                    Integer running = integer(model, "running");
                    JsonElement description = model.get("description");
                    models.add(new ModelStatus(string(model, "key"), string(model, "state"), queued == null ? 0 : queued,
                            running != null && running > 0,
                            description == null || !description.isJsonPrimitive() ? "" : description.getAsString()));
                }
            }
        }
        return new Status(server.url(), models);
    }

    private static io.nnsight.remote.internal.http.HttpTransport transport(Remote server, String what) {
        Objects.requireNonNull(server, "server");
        if (!server.hasServer()) {
            throw new IllegalArgumentException("Remote.local() has no server to " + what
                    + ": pass Remote.on(url) or Remote.fromEnvironment()");
        }
        return server.transport();
    }

    private static String string(JsonObject json, String name) {
        JsonElement value = json.get(name);
        return value == null || !value.isJsonPrimitive() ? "unknown" : value.getAsString();
    }

    private static Integer integer(JsonObject json, String name) {
        JsonElement value = json.get(name);
        if (value == null || !value.isJsonPrimitive() || !value.getAsJsonPrimitive().isNumber()) {
            return null;
        }
        return value.getAsInt();
    }

    /**
     * One line of a {@link Comparison}: what is compared, its value here and on the server, whether the
     * difference stops jobs, and what it means.
     *
     * @param name {@code Java}, {@code nnsight}, {@code Bytedeco}, {@code libtorch}, or {@code model KEY}
     * @param local the value in this JVM; {@code -} for a hosted model that was not passed to compare
     * @param server the server's value; {@code not hosted} for a model it lacks, {@code unknown} where it
     *     does not say
     * @param matters whether the difference makes jobs fail or run differently than asked
     * @param note what the difference means, empty where there is none worth saying
     */
    public record Row(String name, String local, String server, boolean matters, String note) {}

    /**
     * What {@link #compare(Remote, NNsight...)} found: one {@link Row} per version and model. Its {@code
     * toString()} is a table, with {@code !} before each row that matters:
     *
     * <pre>
     * nnsight here and at http://gpu-box:8642
     *                      local           server
     * ! Java               25              21              classes compiled for Java 25 are rewritten down ...
     *   nnsight            0.1.0           0.1.2
     *   Bytedeco           1.5.13          1.5.13
     *   libtorch           2.10.0          2.10.0
     * ! model gpt2         gpt2            not hosted      traces on it fail there; the server hosts stories260K
     *   model stories260K  -               llama
     * 2 differences that matter (marked !)
     * </pre>
     */
    public static final class Comparison {
        private final String server;
        private final List<Row> rows;

        Comparison(String server, List<Row> rows) {
            this.server = server;
            this.rows = List.copyOf(rows);
        }

        /** The server's URL. */
        public String server() {
            return server;
        }

        /** The rows, in the order of the table: Java, nnsight, Bytedeco, libtorch, then the models. */
        public List<Row> rows() {
            return rows;
        }

        /** The row named {@code name} ({@code "nnsight"}, {@code "model stories260K"}), if there is one. */
        public Optional<Row> row(String name) {
            return rows.stream().filter(row -> row.name().equals(name)).findFirst();
        }

        /** The rows whose differences stop jobs or change what they run on. */
        public List<Row> problems() {
            return rows.stream().filter(Row::matters).toList();
        }

        /** Whether no difference matters: jobs on the compared models can run there as they do here. */
        public boolean compatible() {
            return problems().isEmpty();
        }

        @Override
        public String toString() {
            List<String[]> cells = new ArrayList<>();
            cells.add(new String[] {"", "local", "server", ""});
            rows.forEach(row -> cells.add(new String[] {row.name(), row.local(), row.server(), row.note()}));
            List<String> marks = new ArrayList<>();
            marks.add(" ");
            rows.forEach(row -> marks.add(row.matters() ? "!" : " "));
            StringBuilder text = new StringBuilder("nnsight here and at ").append(server).append('\n');
            text.append(table(cells, marks));
            int problems = problems().size();
            text.append(problems == 0 ? "no difference that matters"
                    : problems + (problems == 1 ? " difference that matters" : " differences that matter") + " (marked !)");
            return text.toString();
        }
    }

    /**
     * A hosted model as {@link #status(Remote)} found it.
     *
     * @param key the key clients send to use it (the model's {@link NNsight#key()})
     * @param state {@code RUNNING} when it takes jobs, {@code UNAVAILABLE} when it does not (see {@code
     *     description})
     * @param queued how many jobs wait for it
     * @param jobRunning whether one of its jobs runs now
     * @param description why it is unavailable; empty when it is not
     */
    public record ModelStatus(String key, String state, int queued, boolean jobRunning, String description) {
        /** Whether the model takes jobs ({@code RUNNING}). */
        public boolean available() {
            return "RUNNING".equals(state);
        }
    }

    /**
     * What {@link #status(Remote)} found: the hosted models. Its {@code toString()} is a table:
     *
     * <pre>
     * models at http://gpu-box:8642
     *   model        state    queued  job running
     *   stories260K  RUNNING  2       yes
     *   gpt2         RUNNING  0       no
     * </pre>
     */
    public static final class Status {
        private final String server;
        private final List<ModelStatus> models;

        Status(String server, List<ModelStatus> models) {
            this.server = server;
            this.models = List.copyOf(models);
        }

        /** The server's URL. */
        public String server() {
            return server;
        }

        /** The hosted models, in the server's order. */
        public List<ModelStatus> models() {
            return models;
        }

        /** The model hosted as {@code key}, if the server hosts one. */
        public Optional<ModelStatus> model(String key) {
            return models.stream().filter(model -> model.key().equals(key)).findFirst();
        }

        @Override
        public String toString() {
            List<String[]> cells = new ArrayList<>();
            cells.add(new String[] {"model", "state", "queued", "job running", ""});
            models.forEach(model -> cells.add(new String[] {model.key(), model.state(), String.valueOf(model.queued()),
                    model.jobRunning() ? "yes" : "no", model.description()}));
            List<String> marks = new ArrayList<>();
            cells.forEach(row -> marks.add(" "));
            String table = models.isEmpty() ? "  (no models)\n" : table(cells, marks);
            return "models at " + server + "\n" + table.stripTrailing();
        }
    }

    /** Rows of cells as columns padded to their widest cell, each row after its mark; the last column unpadded. */
    private static String table(List<String[]> cells, List<String> marks) {
        int columns = cells.get(0).length;
        int[] widths = new int[columns];
        for (String[] row : cells) {
            for (int i = 0; i < columns; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        StringBuilder text = new StringBuilder();
        for (int r = 0; r < cells.size(); r++) {
            StringBuilder line = new StringBuilder(marks.get(r)).append(' ');
            String[] row = cells.get(r);
            for (int i = 0; i < columns; i++) {
                line.append(i == columns - 1 ? row[i] : pad(row[i], widths[i] + 2));
            }
            text.append(line.toString().stripTrailing()).append('\n');
        }
        return text.toString();
    }

    private static String pad(String text, int width) {
        return text + " ".repeat(Math.max(0, width - text.length()));
    }
}
