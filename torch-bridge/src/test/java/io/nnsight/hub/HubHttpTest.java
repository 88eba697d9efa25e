package io.nnsight.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import org.junit.jupiter.api.Test;

class HubHttpTest {
    @Test
    void normalizeEtag_quotedAndWeak_keepsTheValueOnly() {
        assertEquals("abc123", HubHttp.normalizeEtag("\"abc123\""));
        assertEquals("abc123", HubHttp.normalizeEtag("W/\"abc123\""));
        assertEquals("abc123", HubHttp.normalizeEtag("abc123"));
    }

    @Test
    void resolveUrl_specialCharacters_areEncodedLikeHuggingFaceHub() {
        HubHttp http = new HubHttp(HubSettings.builder().endpoint(URI.create("https://hub.example/")).build());

        URI url = http.resolveUrl(new HubFile("acme/model", "refs/pr/1", "onnx/model v2.onnx"));

        assertEquals("https://hub.example/acme/model/resolve/refs%2Fpr%2F1/onnx/model%20v2.onnx", url.toString());
    }

    @Test
    void sameOrigin_differentPortOrHost_isAnotherOrigin() {
        URI hub = URI.create("https://huggingface.co/acme/model");
        assertTrue(HubHttp.sameOrigin(hub, URI.create("https://huggingface.co:443/api")));
        assertFalse(HubHttp.sameOrigin(hub, URI.create("https://cdn-lfs.huggingface.co/x")));
        assertFalse(HubHttp.sameOrigin(hub, URI.create("https://huggingface.co:8443/x")));
        assertFalse(HubHttp.sameOrigin(hub, URI.create("http://huggingface.co/x")));
    }
}
