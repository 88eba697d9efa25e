package io.nnsight.remote;

/**
 * A remote trace that failed outside the trace itself: the server could not be reached, refused the
 * request, stopped during the job, or reported the job as failed. The message says what happened and,
 * where the caller can do something about it, what to do:
 *
 * <ul>
 *   <li>the server is unreachable: the URL that was tried, and whether {@code nnsight serve} runs there;
 *   <li>the API key is missing or wrong: set {@code NNSIGHT_API_KEY} or {@code -Dnnsight.apiKey};
 *   <li>the model is not hosted: the models the server hosts;
 *   <li>client and server have incompatible nnsight versions: both versions;
 *   <li>the request or its result is too large: the limit;
 *   <li>the job failed on the server (its code threw, it ran out of time, the server shut down): the
 *       server's description.
 * </ul>
 *
 * <p>It is unchecked, like the exceptions of a local trace, and it never carries the server's stack traces.
 */
public class RemoteException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A failure described by {@code message}. */
    public RemoteException(String message) {
        super(message);
    }

    /** A failure described by {@code message}, caused by {@code cause} (an I/O error of the client). */
    public RemoteException(String message, Throwable cause) {
        super(message, cause);
    }
}
