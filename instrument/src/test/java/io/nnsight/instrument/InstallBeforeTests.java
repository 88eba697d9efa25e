package io.nnsight.instrument;

import net.bytebuddy.agent.ByteBuddyAgent;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Installs the transforms (by attaching to this JVM) when the test session opens, before any test class is
 * loaded: the JVM's verifier loads the model classes a test refers to together with the test class.
 */
public final class InstallBeforeTests implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        Instrumenter.install(ByteBuddyAgent.install());
    }
}
