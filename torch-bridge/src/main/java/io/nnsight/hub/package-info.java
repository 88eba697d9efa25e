/**
 * Downloads model repositories from the Hugging Face Hub into the cache that huggingface_hub uses.
 *
 * <p>{@link io.nnsight.hub.HubClient} is the entry point:
 *
 * <pre>{@code
 * HubClient hub = HubClient.fromEnvironment();
 * Path model = hub.downloadModel("openai-community/gpt2", "main");
 * Path config = model.resolve("config.json");
 * }</pre>
 *
 * <p>The cache is shared with Python: a model that {@code transformers} downloaded is found without a download,
 * and the other way round. Its layout, for the repository {@code openai-community/gpt2} (a repository without a
 * namespace, like {@code gpt2}, gets the folder {@code models--gpt2}):
 *
 * <pre>
 * ~/.cache/huggingface/hub/models--openai-community--gpt2/
 *     blobs/&lt;etag&gt;                        the content of each file
 *     refs/main                          the commit hash that the branch main pointed to
 *     snapshots/&lt;commit&gt;/config.json      a relative symbolic link to ../../blobs/&lt;etag&gt;
 * </pre>
 *
 * <p>{@link io.nnsight.hub.HubSettings} reads the environment variables of huggingface_hub ({@code HF_ENDPOINT},
 * {@code HF_TOKEN}, {@code HF_HOME}, {@code HF_HUB_CACHE}, {@code HF_HUB_OFFLINE}); code can override each.
 * {@link io.nnsight.hub.DownloadListener} follows the progress of downloads, and
 * {@link io.nnsight.hub.HubException} explains every failure of the hub.
 */
package io.nnsight.hub;
