package io.nnsight.remote.internal.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ProtocolTest {
    @Test
    void compatible_sameMajorMinor() {
        assertTrue(Protocol.compatible("0.1.0", "0.1.7-SNAPSHOT"));
        assertTrue(Protocol.compatible("1.2", "1.2.0+build.5"));
        assertTrue(Protocol.compatible(Protocol.VERSION, Protocol.VERSION));
    }

    @Test
    void compatible_otherMinorOrMajor() {
        assertFalse(Protocol.compatible("0.1.0", "0.2.0"));
        assertFalse(Protocol.compatible("1.1.0", "0.1.0"));
        assertFalse(Protocol.compatible("0.10.0", "0.1.0"));
    }

    @Test
    void compatible_malformedVersion() {
        assertFalse(Protocol.compatible(null, "0.1.0"));
        assertFalse(Protocol.compatible("0.1.0", "banana"));
        assertFalse(Protocol.compatible("1", "1"));
        assertFalse(Protocol.compatible("99999999999.1", "99999999999.1"));
    }

    @Test
    void majorMinor_ofVersions() {
        assertEquals("0.1", Protocol.majorMinor("0.1.0-SNAPSHOT"));
        assertEquals("2.10", Protocol.majorMinor(" 2.10.3 "));
        assertNull(Protocol.majorMinor("v0.1.0"));
    }

    @Test
    void version_fromManifestOrBuild() {
        // Tests run from target/classes, which has no manifest: the build's version.
        assertEquals(Protocol.BUILD_VERSION, Protocol.VERSION);
    }

    @Test
    void buildVersion_matchesPom() throws IOException {
        // Surefire runs in the module's folder; the module's version is its parent's.
        String pom = Files.readString(Path.of("pom.xml"));
        Matcher parent = Pattern.compile("<parent>.*?<version>([^<]+)</version>", Pattern.DOTALL).matcher(pom);
        assertTrue(parent.find(), "no parent version in pom.xml");
        assertEquals(parent.group(1), Protocol.BUILD_VERSION, "update Protocol.BUILD_VERSION with the pom's version");
    }
}
