package io.nnsight.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads one blob into {@code blobs/<etag>.incomplete}, continuing what an interrupted attempt left there, and
 * moves it to {@code blobs/<etag>} once complete, so that a blob under its final name is always whole.
 */
final class ResumableDownload {
    private static final Logger log = LoggerFactory.getLogger(ResumableDownload.class);
    private static final int BUFFER_SIZE = 64 * 1024;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-\\d+/(\\d+|\\*)");

    private final HubHttp http;
    private final DownloadListener listener;

    ResumableDownload(HubHttp http, DownloadListener listener) {
        this.http = http;
        this.listener = listener;
    }

    /**
     * Downloads the file at {@code url} to {@code blob}, through {@code incomplete}. The caller holds the blob's
     * lock.
     *
     * @throws HubException of kind {@link HubException.Kind#INCOMPLETE_DOWNLOAD} when the connection breaks; what
     *     arrived stays in {@code incomplete} for the next attempt
     */
    void run(HubFile file, URI url, Path incomplete, Path blob) throws IOException {
        Files.createDirectories(blob.getParent());
        long offset = Files.exists(incomplete) ? Files.size(incomplete) : 0;
        HttpResponse<InputStream> response = http.get(file, url, offset);
        if (response.statusCode() == 416 && offset > 0) {
            // The server has no bytes after the partial file's end: the partial file is not a prefix of this blob.
            log.debug("The server refused to resume {} at byte {}; starting over", file.describe(), offset);
            response.body().close();
            offset = 0;
            response = http.get(file, url, 0);
        }
        try (InputStream body = response.body()) {
            int status = response.statusCode();
            long start;
            long total;
            if (status == 200) {
                if (offset > 0) {
                    log.debug("The server ignored the range request for {}; starting over", file.describe());
                }
                start = 0;
                total = response.headers().firstValueAsLong("Content-Length").orElse(-1);
            } else if (status == 206 && offset > 0) {
                start = offset;
                try {
                    total = rangeTotal(file, response, offset);
                } catch (HubException e) {
                    Files.delete(incomplete); // the next attempt starts over rather than failing the same way
                    throw e;
                }
            } else {
                throw http.statusError(file, status, response.headers());
            }
            long done = transfer(file, body, incomplete, start, total);
            if (total >= 0 && done != total) {
                if (done < total) {
                    throw incomplete(file, incomplete, done, total, "the server closed the connection early");
                }
                Files.delete(incomplete);
                throw new HubException(HubException.Kind.BAD_RESPONSE, file, "Received " + done + " bytes of "
                        + file.describe() + " but the server announced " + total + "; the download was discarded."
                        + " Retry later.");
            }
            RepoCache.moveReplacing(incomplete, blob);
            if (total < 0) {
                listener.onProgress(file.filename(), done, done);
            }
        }
    }

    /** Copies the body to the partial file from byte {@code start} on, and returns the partial file's size. */
    private long transfer(HubFile file, InputStream body, Path incomplete, long start, long total) throws IOException {
        OpenOption[] options = start > 0
                ? new OpenOption[] {StandardOpenOption.CREATE, StandardOpenOption.APPEND}
                : new OpenOption[] {StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE};
        long done = start;
        listener.onProgress(file.filename(), done, total);
        byte[] buffer = new byte[BUFFER_SIZE];
        try (OutputStream out = Files.newOutputStream(incomplete, options)) {
            while (true) {
                int read;
                try {
                    read = body.read(buffer);
                } catch (IOException e) {
                    String reason = "the connection broke (" + HubHttp.reason(e) + ")";
                    throw incomplete(file, incomplete, done, total, reason, e);
                }
                if (read < 0) {
                    return done;
                }
                out.write(buffer, 0, read);
                done += read;
                listener.onProgress(file.filename(), done, total);
            }
        }
    }

    /** The size of the whole file, from {@code Content-Range: bytes <start>-<end>/<size>} of a 206 answer. */
    private long rangeTotal(HubFile file, HttpResponse<?> response, long offset) throws HubException {
        String contentRange = response.headers().firstValue("Content-Range").orElse("");
        Matcher matcher = CONTENT_RANGE.matcher(contentRange);
        if (!matcher.matches() || Long.parseLong(matcher.group(1)) != offset) {
            throw new HubException(HubException.Kind.BAD_RESPONSE, file, "Asked for " + file.describe()
                    + " from byte " + offset + " but the server answered with the range '" + contentRange + "'.");
        }
        if (!matcher.group(2).equals("*")) {
            return Long.parseLong(matcher.group(2));
        }
        OptionalLong length = response.headers().firstValueAsLong("Content-Length");
        return length.isPresent() ? offset + length.getAsLong() : -1;
    }

    private static HubException incomplete(HubFile file, Path incomplete, long done, long total, String reason) {
        return incomplete(file, incomplete, done, total, reason, null);
    }

    private static HubException incomplete(HubFile file, Path incomplete, long done, long total, String reason,
            Throwable cause) {
        return new HubException(HubException.Kind.INCOMPLETE_DOWNLOAD, file, "The download of " + file.describe()
                + " stopped after " + done + (total >= 0 ? " of " + total : "") + " bytes: " + reason + ". The "
                + done + " bytes are kept in " + incomplete + "; downloading the file again resumes from there.",
                cause);
    }
}
