package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Devices: those this JVM lacks are refused saying which it has; where a GPU is present, a model on it gives the
 * CPU's numbers (skipped without one). That the language model code makes every tensor on the model's device is
 * checked on its compiled classes ({@code ArchitectureTest.languageModels_makeTensorsOnTheModelsDevice}).
 */
class DeviceTest {
    @Test
    void aDeviceThisJvmLacks_isRefusedSayingWhichItHas() {
        Assumptions.assumeTrue(!torch.cuda_is_available(), "this JVM has a GPU");

        IllegalArgumentException cuda = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.Options.defaults().device("cuda:1"));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.Options.defaults().device("tpu"));

        assertTrue(cuda.getMessage().contains("'cuda:1' is not available") && cuda.getMessage().contains("the cpu only")
                && cuda.getMessage().contains("-Pcuda"), cuda.getMessage());
        assertTrue(unknown.getMessage().contains("unknown device 'tpu'") && unknown.getMessage().contains("cpu, cuda or cuda:N"),
                unknown.getMessage());
        assertEquals("cpu", LanguageModel.load(Shared.path("models/stories260K").toString(),
                LanguageModel.Options.defaults().device("CPU")).device());
    }

    @Test
    void onAGpu_aModelGivesTheCpusLogitsAndTokens() {
        Assumptions.assumeTrue(torch.cuda_is_available(), "no CUDA device in this JVM (the default build's libtorch is "
                + "CPU-only; build with -Pcuda on a machine with an NVIDIA GPU to run this test)");
        String folder = Shared.path("models/stories260K").toString();
        LanguageModel cpu = LanguageModel.load(folder);
        LanguageModel gpu = LanguageModel.load(folder, LanguageModel.Options.defaults().device("cuda"));

        Tensor onGpu = gpu.trace(Shared.STORIES_PROMPT, tr -> gpu.get("lm_head").output());
        Tensor onCpu = cpu.trace(Shared.STORIES_PROMPT, tr -> cpu.get("lm_head").output());

        assertTrue(onGpu.device().equals(new Device("cuda:0")));
        assertTrue(torch.allclose(onCpu, onGpu.cpu(), 1e-4, 1e-4, false));
        Generation sampled = Generation.maxNewTokens(10).temperature(0.8).seed(1);
        assertArrayEquals(cpu.generate(Shared.STORIES_PROMPT, sampled).ids(0), gpu.generate(Shared.STORIES_PROMPT, sampled).ids(0));
    }
}
