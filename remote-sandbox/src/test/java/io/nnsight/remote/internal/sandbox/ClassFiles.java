package io.nnsight.remote.internal.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

/** Class files of test classes, read from the test class path the way a client ships them. */
final class ClassFiles {
    private ClassFiles() {}

    /** The class files of these classes and of the classes nested in them (lambdas' and anonymous classes). */
    static Map<String, byte[]> of(Class<?>... types) {
        Map<String, byte[]> classes = new LinkedHashMap<>();
        for (Class<?> type : types) {
            Arrays.stream(type.getNestHost().getNestMembers())
                    .filter(member -> member == type || member.getName().startsWith(type.getName() + "$"))
                    .forEach(member -> classes.put(member.getName(), read(member)));
        }
        return classes;
    }

    /** The class file of one class, as compiled. */
    static byte[] read(Class<?> type) {
        String resource = "/" + type.getName().replace('.', '/') + ".class";
        try (InputStream in = type.getResourceAsStream(resource)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A copy of the class file with another major version (and minor version). */
    static byte[] withVersion(byte[] classFile, int major, int minor) {
        byte[] copy = classFile.clone();
        copy[4] = (byte) (minor >>> 8);
        copy[5] = (byte) minor;
        copy[6] = (byte) (major >>> 8);
        copy[7] = (byte) major;
        return copy;
    }

    /** Compiles one source file in memory for {@code --release release}; the classes by binary name. */
    static Map<String, byte[]> compile(String className, String source, int release) {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        Map<String, ByteArrayOutputStream> outputs = new LinkedHashMap<>();
        JavaFileManager files = new ForwardingJavaFileManager<>(compiler.getStandardFileManager(null, null, null)) {
            @Override
            public JavaFileObject getJavaFileForOutput(
                    Location location, String name, JavaFileObject.Kind kind, FileObject sibling) {
                return new SimpleJavaFileObject(URI.create("memory:///" + name.replace('.', '/') + kind.extension), kind) {
                    @Override
                    public OutputStream openOutputStream() {
                        return outputs.computeIfAbsent(name, n -> new ByteArrayOutputStream());
                    }
                };
            }
        };
        JavaFileObject unit = new SimpleJavaFileObject(
                URI.create("string:///" + className.replace('.', '/') + ".java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return source;
            }
        };
        List<String> options = List.of("--release", String.valueOf(release));
        if (!compiler.getTask(null, files, null, options, null, List.of(unit)).call()) {
            throw new IllegalArgumentException("does not compile: " + className);
        }
        Map<String, byte[]> classes = new LinkedHashMap<>();
        outputs.forEach((name, bytes) -> classes.put(name, bytes.toByteArray()));
        return classes;
    }

    static int majorVersion(byte[] classFile) {
        return (classFile[6] & 0xFF) << 8 | (classFile[7] & 0xFF);
    }
}
