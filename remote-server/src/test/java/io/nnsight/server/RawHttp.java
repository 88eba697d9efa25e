package io.nnsight.server;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nnsight.remote.internal.protocol.Protocol;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;

/** Plain HTTP requests with Apache HttpClient, for what {@code HttpTransport} never sends. */
final class RawHttp implements AutoCloseable {
    private final String url;
    private final CloseableHttpClient client = HttpClients.custom()
            .setDefaultRequestConfig(RequestConfig.custom().setExpectContinueEnabled(true).build())
            .disableAutomaticRetries()
            .build();

    RawHttp(String url) {
        this.url = url;
    }

    /** An answer: status, content type and body. */
    record Answer(int code, String contentType, String body) {
        JsonObject json() {
            return JsonParser.parseString(body).getAsJsonObject();
        }

        String error() {
            return json().get("error").getAsString();
        }
    }

    /** The headers of a well-formed submission by {@code apiKey} to {@code model}. */
    static String[] submission(String apiKey, String model) {
        return new String[] {Protocol.API_KEY_HEADER, apiKey, Protocol.MODEL_KEY_HEADER, model, Protocol.VERSION_HEADER,
            Protocol.VERSION, Protocol.JAVA_VERSION_HEADER, Integer.toString(Runtime.version().feature())};
    }

    Answer get(String path, String... headers) {
        return send(new HttpGet(url + path), headers);
    }

    Answer post(String path, HttpEntity entity, String... headers) {
        HttpPost post = new HttpPost(url + path);
        post.setEntity(entity);
        return send(post, headers);
    }

    private Answer send(HttpUriRequestBase request, String... headers) {
        for (int i = 0; i < headers.length; i += 2) {
            if (headers[i + 1] != null) {
                request.setHeader(headers[i], headers[i + 1]);
            }
        }
        try {
            return client.execute(request, response -> new Answer(response.getCode(),
                    response.getEntity() == null ? null : response.getEntity().getContentType(),
                    response.getEntity() == null ? "" : EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws IOException {
        client.close();
    }
}
