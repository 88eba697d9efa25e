package io.nnsight.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shape of the codebase, checked on the compiled main classes of every module: the rules a {@code
 * module-info.java} per module would state, enforced here instead (see {@code docs/architecture.md},
 * "Internals, enforced", for why not JPMS).
 *
 * <p>The table below is the modules' public surface. A module may use another module's package only when
 * that module exports it, to everyone or, for the few internals a sibling really needs, to that sibling. A new
 * cross-module use of an internal package fails here, naming the classes; the fix is to make what is needed
 * public API, or, when it must stay internal, to add a qualified export with its reason.
 */
class ArchitectureTest {
    /** Each module's packages that every other module may use. */
    private static final Map<String, Set<String>> EXPORTS = Map.of(
            "core", Set.of("io.nnsight", "io.nnsight.spi", "io.nnsight.spi.statemachine"),
            // the root is loaded by the agent; transform and source are called by the code the agent rewrites
            "instrument", Set.of("io.nnsight.instrument", "io.nnsight.instrument.transform",
                    "io.nnsight.instrument.source"),
            "torch-bridge", Set.of("io.nnsight.nn", "io.nnsight.lm", "io.nnsight.lm.decoder", "io.nnsight.lm.families",
                    "io.nnsight.safetensors", "io.nnsight.hub"),
            "remote-protocol", Set.of("io.nnsight.remote.spi"),
            "remote-sandbox", Set.of("io.nnsight.remote.sandbox"),
            "remote-client", Set.of("io.nnsight.remote"),
            "remote-server", Set.of("io.nnsight.server"),
            "remote-ray", Set.of("io.nnsight.server.ray"));

    /** An internal package that the named sibling modules may use, and why. */
    private record QualifiedExport(String packageName, Set<String> modules, String why) {}

    private static final List<QualifiedExport> QUALIFIED_EXPORTS = List.of(
            new QualifiedExport("io.nnsight.lm.internal", Set.of("remote-sandbox"), "the weight guard reloads a hosted "
                    + "language model's weights with WeightLoader; as public API shipped jobs could call it, since the "
                    + "sandbox lets them name io.nnsight.lm"),
            new QualifiedExport("io.nnsight.remote.internal.protocol", Set.of("remote-client", "remote-server",
                    "remote-sandbox"), "the HTTP protocol both sides speak; its compression also packs files of "
                    + "exported edits"),
            new QualifiedExport("io.nnsight.remote.internal.wire", Set.of("remote-client", "remote-sandbox"),
                    "the wire format: the client writes jobs, the sandbox reads them"),
            new QualifiedExport("io.nnsight.remote.internal.shipping", Set.of("jmh"), "the load benchmark ships its "
                    + "client's trace body, a class of benchmarks.jar in an io.nnsight package, which the public "
                    + "Ndif.register refuses as nnsight's own"),
            new QualifiedExport("io.nnsight.remote.internal.allowlist", Set.of("remote-client", "remote-sandbox"),
                    "the allow-list the sandbox checks shipped code by, and by which the client reads results"));

    /** The types of {@code io.nnsight} that its engine, {@code io.nnsight.internal}, may use: leaves, not the facade. */
    private static final Set<String> CORE_LEAF_TYPES = Set.of("io.nnsight.Inputs", "io.nnsight.Batchable",
            "io.nnsight.Batchable$Prepared", "io.nnsight.Steps", "io.nnsight.Tensors", "io.nnsight.TraceException",
            "io.nnsight.FreedTensorException", "io.nnsight.NotReachedException", "io.nnsight.OutOfOrderException",
            "io.nnsight.Cache", "io.nnsight.Cache$Call");

    /** libtorch's factories that make a tensor from values or nothing: on the CPU unless options name a device. */
    private static final Set<String> TENSOR_FACTORIES = Set.of("arange", "empty", "zeros", "ones", "full", "rand", "randn",
            "randint", "tensor", "scalar_tensor", "linspace", "eye", "from_file");

    /** The language model classes that make a tensor without the model's device, and why that is right. */
    private static final Map<String, String> HOST_TENSORS = Map.of(
            "io.nnsight.lm.internal.PromptInputs", "token ids are made and checked on the host, then moved to the device",
            "io.nnsight.lm.decoder.ScaledEmbedding", "a number is rounded to the weights' type in a 0-dim tensor once",
            "io.nnsight.lm.decoder.Rope", "rotary frequencies are computed on the host, where every kernel exists (not "
                    + "on the meta device), then moved to the device",
            "io.nnsight.lm.internal.Mxfp4", "MXFP4 weights are dequantized on the host, where the checkpoint's pages "
                    + "are, one expert at a time, then copied into the parameter on its device");

    private static final Path ROOT = projectRoot();
    private static Map<String, String> moduleOfPackage;
    private static Map<String, String> moduleOfClass;
    private static JavaClasses classes;

    @BeforeAll
    static void importEveryModule() throws IOException {
        moduleOfPackage = new TreeMap<>();
        moduleOfClass = new TreeMap<>();
        List<Path> outputs = new ArrayList<>();
        for (String module : modules()) {
            Path output = ROOT.resolve(module).resolve("target/classes");
            if (!Files.isDirectory(output)) {
                fail(module + " has no compiled classes at " + output + ": run ./mvnw verify, which builds every module "
                        + "before this one");
            }
            outputs.add(output);
            try (Stream<Path> files = Files.walk(output)) {
                files.filter(file -> file.toString().endsWith(".class")).forEach(file -> {
                    String name = output.relativize(file).toString().replace('/', '.').replaceAll("\\.class$", "");
                    moduleOfClass.put(name, module);
                    int dot = name.lastIndexOf('.');
                    moduleOfPackage.putIfAbsent(dot < 0 ? "" : name.substring(0, dot), module);
                });
            }
        }
        classes = new ClassFileImporter().importPaths(outputs);
    }

    @Test
    void modules_useEachOthersPackagesOnlyWhereExported() {
        Map<String, Set<String>> violations = new TreeMap<>();
        for (JavaClass origin : classes) {
            String from = moduleOfClass.get(origin.getName());
            for (Dependency dependency : origin.getDirectDependenciesFromSelf()) {
                JavaClass target = dependency.getTargetClass().getBaseComponentType();
                String to = moduleOfClass.get(target.getName());
                if (from == null || to == null || from.equals(to) || isExported(to, target.getPackageName(), from)) {
                    continue;
                }
                violations.computeIfAbsent(from + " -> " + to + " (" + target.getPackageName() + ")",
                        key -> new TreeSet<>()).add(origin.getName() + " uses " + target.getName());
            }
        }
        if (!violations.isEmpty()) {
            StringBuilder message = new StringBuilder("modules use internal packages of others; make what they need "
                    + "public API, or add a qualified export with its reason to ArchitectureTest:");
            violations.forEach((edge, uses) -> {
                message.append("\n  ").append(edge);
                uses.stream().limit(5).forEach(use -> message.append("\n    ").append(use));
            });
            fail(message.toString());
        }
    }

    @Test
    void exportTable_namesOnlyPackagesThatExist() {
        EXPORTS.forEach((module, packages) -> packages.forEach(
                name -> assertEquals(module, moduleOfPackage.get(name), name + " is not a package of " + module)));
        for (QualifiedExport export : QUALIFIED_EXPORTS) {
            assertTrue(moduleOfPackage.containsKey(export.packageName()), export.packageName() + " does not exist");
            export.modules().forEach(module -> assertTrue(modules().contains(module), module + " is not a module"));
        }
    }

    @Test
    void engine_usesOnlyTheLeafTypesOfTheApi() {
        List<String> violations = new ArrayList<>();
        for (JavaClass origin : classes) {
            if (!origin.getPackageName().startsWith("io.nnsight.internal")) {
                continue;
            }
            for (Dependency dependency : origin.getDirectDependenciesFromSelf()) {
                JavaClass target = dependency.getTargetClass().getBaseComponentType();
                if (target.getPackageName().equals("io.nnsight") && !CORE_LEAF_TYPES.contains(target.getName())) {
                    violations.add(origin.getName() + " uses " + target.getName());
                }
            }
        }
        assertEquals(List.of(), violations.stream().distinct().sorted().toList(), "io.nnsight.internal is the engine "
                + "under io.nnsight's facade (NNsight, Envoy, Tracer...) and must not use it: give it what it needs");
    }

    @Test
    void client_rewritesNoCode_andNeedsNoSandbox() {
        noClasses().that().resideInAnyPackage("io.nnsight.remote", "io.nnsight.remote.internal.http",
                        "io.nnsight.remote.internal.shipping")
                .should().dependOnClassesThat().resideInAnyPackage("org.objectweb.asm..",
                        "io.nnsight.remote.sandbox..", "io.nnsight.remote.internal.sandbox..")
                .because("the client reads class files only through the protocol's ClassPlan, rewrites no code, and "
                        + "Remote.local() finds the sandbox's executor as a service, a run-time dependency")
                .check(classes);
    }

    @Test
    void runningTrace_isFoundOneWay() {
        List<String> threadLocals = new ArrayList<>();
        for (JavaClass type : classes) {
            String name = type.getPackageName();
            boolean core = name.equals("io.nnsight") || name.equals("io.nnsight.internal") || name.equals("io.nnsight.spi");
            for (JavaField field : type.getFields()) {
                if (core && field.getRawType().isAssignableTo(ThreadLocal.class)) {
                    threadLocals.add(type.getName() + "." + field.getName());
                }
            }
        }
        assertEquals(List.of("io.nnsight.internal.Running.FRAMES"), threadLocals, "the running trace and session are "
                + "recorded and found in io.nnsight.internal.Running only");
    }

    @Test
    void languageModels_makeTensorsOnTheModelsDevice() {
        Set<String> violations = new TreeSet<>();
        for (JavaClass origin : classes) {
            String outer = origin.getName().replaceAll("\\$.*", "");
            if (!origin.getPackageName().startsWith("io.nnsight.lm") || HOST_TENSORS.containsKey(outer)) {
                continue;
            }
            for (JavaMethodCall call : origin.getMethodCallsFromSelf()) {
                boolean factory = call.getTargetOwner().getName().equals("org.bytedeco.pytorch.global.torch")
                        && TENSOR_FACTORIES.contains(call.getName());
                boolean placed = call.getTarget().getRawParameterTypes().stream().anyMatch(type -> type.getName()
                        .matches("org\\.bytedeco\\.pytorch\\.(TensorOptions|DeviceOptional)"));
                if (factory && !placed) {
                    violations.add(origin.getName() + " calls torch." + call.getName() + " without the device (line "
                            + call.getLineNumber() + ")");
                }
            }
        }
        assertEquals(Set.of(), violations, "a language model makes its tensors with its Placement's options, so that a "
                + "model on a GPU never meets a tensor on the host; a deliberate host tensor goes in HOST_TENSORS with why");
    }

    @Test
    void everyPackage_hasAPackageInfo() throws IOException {
        Set<String> missing = new TreeSet<>();
        for (String module : modules()) {
            Path sources = ROOT.resolve(module).resolve("src/main/java");
            if (!Files.isDirectory(sources)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(sources)) {
                files.filter(file -> file.toString().endsWith(".java"))
                        .map(Path::getParent)
                        .distinct()
                        .filter(folder -> !Files.exists(folder.resolve("package-info.java")))
                        .forEach(folder -> missing.add(module + ": " + sources.relativize(folder).toString().replace('/', '.')));
            }
        }
        assertEquals(Set.of(), missing, "every package says what it is for in a package-info.java");
    }

    @Test
    void bom_listsEveryPublishedModule_atTheBuildsVersion() {
        String bom = pom("bom");
        assertEquals(version(pom(".")), version(bom), "bom/pom.xml has no parent, so its version is kept by hand");
        Set<String> listed = new TreeSet<>();
        Matcher artifact = Pattern.compile("<artifactId>(nnsight-[^<]+)</artifactId>").matcher(
                bom.substring(bom.indexOf("<dependencyManagement>")));
        while (artifact.find()) {
            listed.add(artifact.group(1));
        }
        Set<String> published = new TreeSet<>();
        for (String module : modules()) {
            String pom = pom(module);
            if (!pom.contains("<maven.javadoc.skip>true</maven.javadoc.skip>")) {
                published.add(artifactId(pom));
            }
        }
        assertEquals(published, listed, "the BOM lists the published modules (those with -sources and -javadoc jars)");
    }

    /** The modules of the build with classes, as the root pom lists them, without this one. */
    private static List<String> modules() {
        String root = pom(".");
        Map<String, Boolean> found = new LinkedHashMap<>();
        Matcher module = Pattern.compile("<module>([^<]+)</module>").matcher(root);
        while (module.find()) {
            if (!pom(module.group(1)).contains("<packaging>pom</packaging>")) {
                found.put(module.group(1), true);
            }
        }
        found.remove("architecture-tests");
        return List.copyOf(found.keySet());
    }

    private static String pom(String module) {
        try {
            return Files.readString(ROOT.resolve(module).resolve("pom.xml"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The project's own version: the first {@code <version>} after its {@code <artifactId>}, past any parent. */
    private static String version(String pom) {
        String own = pom.contains("</parent>") ? pom.substring(pom.indexOf("</parent>")) : pom;
        Matcher version = Pattern.compile("<version>([^<]+)</version>").matcher(own);
        return version.find() ? version.group(1) : "";
    }

    private static String artifactId(String pom) {
        String own = pom.contains("</parent>") ? pom.substring(pom.indexOf("</parent>")) : pom;
        Matcher artifact = Pattern.compile("<artifactId>([^<]+)</artifactId>").matcher(own);
        return artifact.find() ? artifact.group(1) : "";
    }

    private static boolean isExported(String module, String packageName, String to) {
        if (EXPORTS.getOrDefault(module, Set.of()).contains(packageName)) {
            return true;
        }
        return QUALIFIED_EXPORTS.stream().anyMatch(export -> export.packageName().equals(packageName)
                && export.modules().contains(to));
    }

    private static Path projectRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("architecture-tests")) && Files.isRegularFile(dir.resolve("pom.xml"))) {
                return dir;
            }
        }
        throw new IllegalStateException("the project's root is not above " + Path.of("").toAbsolutePath());
    }
}
