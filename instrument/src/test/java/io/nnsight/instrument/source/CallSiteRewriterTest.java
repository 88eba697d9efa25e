package io.nnsight.instrument.source;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which calls the rewriter routes through a native module's hook point. */
class CallSiteRewriterTest {
    @Test
    void isNativeModuleForward_matchesBytedecoImplClassesOnly() {
        assertTrue(CallSiteRewriter.isNativeModuleForward("org/bytedeco/pytorch/LinearImpl", "forward"));
        assertTrue(!CallSiteRewriter.isNativeModuleForward("org/bytedeco/pytorch/LinearImpl", "weight"));
        assertTrue(!CallSiteRewriter.isNativeModuleForward("org/bytedeco/pytorch/Tensor", "forward"));
        assertTrue(!CallSiteRewriter.isNativeModuleForward("com/example/MyImpl", "forward"));
    }
}
