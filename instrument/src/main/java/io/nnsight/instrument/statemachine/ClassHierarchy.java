package io.nnsight.instrument.statemachine;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.Opcodes;

/**
 * What a transform needs to know of other classes (superclass, interfaces, whether an interface, where the
 * class file comes from), read from their class files through a class loader's resources, never by loading
 * them: a class loaded from inside a transform would skip the agent's transforms (it is defined while the
 * transformed class is still being loaded).
 *
 * <p>A class without a class file to read (made in memory, as by {@code jshell}) is looked up as a loaded
 * class instead.
 */
final class ClassHierarchy {
    /** The facts of one class. {@code location} is the class path entry (directory or jar) it came from. */
    record Info(String superName, String[] interfaces, boolean isInterface, URL location) {}

    private final ClassLoader loader;
    private final Map<String, Info> infos = new ConcurrentHashMap<>();

    ClassHierarchy(ClassLoader loader) {
        this.loader = loader;
    }

    /**
     * The facts of the class of internal name {@code type}.
     *
     * @throws TypeNotPresentException when there is no such class
     */
    Info info(String type) {
        return infos.computeIfAbsent(type, this::read);
    }

    /** The superclass's internal name; {@code null} for {@code java/lang/Object} and interfaces' {@code Object}. */
    String superName(String type) {
        return info(type).superName();
    }

    boolean isInterface(String type) {
        return info(type).isInterface();
    }

    /** Whether {@code type} is {@code ancestor} or extends or implements it, directly or not. */
    boolean isSubtype(String type, String ancestor) {
        if (type.equals(ancestor)) {
            return true;
        }
        Info info = info(type);
        if (info.superName() != null && isSubtype(info.superName(), ancestor)) {
            return true;
        }
        for (String face : info.interfaces()) {
            if (isSubtype(face, ancestor)) {
                return true;
            }
        }
        return false;
    }

    private Info read(String type) {
        String resource = type + ".class";
        URL url = loader == null ? ClassLoader.getSystemResource(resource) : loader.getResource(resource);
        if (url == null) {
            return loaded(type);
        }
        try (InputStream in = url.openStream()) {
            ClassReader reader = new ClassReader(in);
            return new Info(reader.getSuperName(), reader.getInterfaces(),
                    (reader.getAccess() & Opcodes.ACC_INTERFACE) != 0, location(url, resource));
        } catch (IOException e) {
            return loaded(type);
        }
    }

    /** The class path entry of a class file's URL: the directory or jar before the class's own path. */
    private static URL location(URL url, String resource) {
        String text = url.toString();
        try {
            if (text.startsWith("jar:") && text.contains("!/")) {
                return new URL(text.substring(4, text.indexOf("!/")));
            }
            if (text.endsWith(resource)) {
                return new URL(text.substring(0, text.length() - resource.length()));
            }
        } catch (IOException e) {
            // not a location we can name
        }
        return null;
    }

    private Info loaded(String type) {
        try {
            Class<?> found = Class.forName(type.replace('/', '.'), false, loader);
            Class<?>[] faces = found.getInterfaces();
            String[] interfaces = new String[faces.length];
            for (int i = 0; i < faces.length; i++) {
                interfaces[i] = faces[i].getName().replace('.', '/');
            }
            Class<?> superclass = found.getSuperclass();
            URL location = found.getProtectionDomain().getCodeSource() == null ? null
                    : found.getProtectionDomain().getCodeSource().getLocation();
            return new Info(superclass == null ? null : superclass.getName().replace('.', '/'), interfaces,
                    found.isInterface(), location);
        } catch (ClassNotFoundException | LinkageError e) {
            throw new TypeNotPresentException(type.replace('/', '.'), e);
        }
    }
}
