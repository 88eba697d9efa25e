package io.nnsight.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubSettingsTest {
    @TempDir
    Path home;

    @Test
    void fromEnvironment_noVariables_usesHuggingFaceDefaults() {
        HubSettings settings = HubSettings.fromEnvironment(Map.of(), home);

        assertEquals(URI.create("https://huggingface.co"), settings.endpoint());
        assertEquals(Optional.empty(), settings.token());
        assertEquals(home.resolve(".cache/huggingface/hub"), settings.cacheDir());
        assertFalse(settings.offline());
    }

    @Test
    void fromEnvironment_allVariables_overrideTheDefaults() {
        HubSettings settings = HubSettings.fromEnvironment(Map.of(
                "HF_ENDPOINT", "https://hf-mirror.example/",
                "HF_TOKEN", "hf_abc",
                "HF_HUB_CACHE", "/data/hub",
                "HF_HUB_OFFLINE", "1"), home);

        assertEquals(URI.create("https://hf-mirror.example"), settings.endpoint());
        assertEquals(Optional.of("hf_abc"), settings.token());
        assertEquals(Path.of("/data/hub"), settings.cacheDir());
        assertTrue(settings.offline());
    }

    @Test
    void fromEnvironment_hfHome_holdsTheCacheAndTheTokenFile() throws IOException {
        Path hfHome = home.resolve("hf");
        Files.createDirectories(hfHome);
        Files.writeString(hfHome.resolve("token"), "hf_saved\n");

        HubSettings settings = HubSettings.fromEnvironment(Map.of("HF_HOME", "~/hf"), home);

        assertEquals(hfHome.resolve("hub"), settings.cacheDir());
        assertEquals(Optional.of("hf_saved"), settings.token());
    }

    @Test
    void fromEnvironment_xdgCacheHome_replacesDotCache() {
        HubSettings settings = HubSettings.fromEnvironment(Map.of("XDG_CACHE_HOME", "/xdg"), home);

        assertEquals(Path.of("/xdg/huggingface/hub"), settings.cacheDir());
    }

    @Test
    void fromEnvironment_offlineValues_readLikeHuggingFaceHub() {
        for (String on : new String[] {"1", "true", "YES", "On"}) {
            assertTrue(HubSettings.fromEnvironment(Map.of("HF_HUB_OFFLINE", on), home).offline(), on);
        }
        for (String off : new String[] {"0", "false", "no", ""}) {
            assertFalse(HubSettings.fromEnvironment(Map.of("HF_HUB_OFFLINE", off), home).offline(), off);
        }
    }

    @Test
    void toBuilder_overridesOneValue_keepsTheOthers() {
        HubSettings base = HubSettings.fromEnvironment(Map.of("HF_TOKEN", "hf_abc"), home);

        HubSettings offline = base.toBuilder().offline(true).build();

        assertTrue(offline.offline());
        assertEquals(base.token(), offline.token());
        assertEquals(base.cacheDir(), offline.cacheDir());
        assertEquals(base, offline.toBuilder().offline(false).build());
    }

    @Test
    void endpoint_notHttp_isRejectedNamingHfEndpoint() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HubSettings.builder().endpoint(URI.create("ftp://example.com")));

        assertTrue(e.getMessage().contains("HF_ENDPOINT"), e.getMessage());
    }

    @Test
    void toString_masksTheToken() {
        String text = HubSettings.builder().token("hf_secret").build().toString();

        assertFalse(text.contains("hf_secret"), text);
    }
}
