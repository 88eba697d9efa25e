package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import io.nnsight.nn.Sequential;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Several invokes batched into one forward pass: rows, empty invokes, sharing values, barriers, skips. */
class InvokeTest extends TinyModelFixture {
    private final Tensor a = torch.rand(1, 5);
    private final Tensor b = torch.rand(2, 5);

    @Test
    void eachInvoke_seesOnlyItsOwnRows() {
        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(a, () -> model.get("layer2").output()),
                tr.invoke(b, () -> model.get("layer2").output())));

        assertTrue(same(net.forward(a), outputs.get(0).get()));
        assertTrue(same(net.forward(b), outputs.get(1).get()));
    }

    @Test
    void invokeWithoutInput_seesTheWholeBatch() {
        Invoke<Tensor> whole = model.trace(tr -> {
            tr.invoke(a, () -> null);
            tr.invoke(b, () -> null);
            return tr.invoke(() -> model.get("layer2").output());
        });

        assertTrue(same(net.forward(torch.cat(new org.bytedeco.pytorch.TensorVector(a, b))), whole.get()));
    }

    @Test
    void editInOneInvoke_changesOnlyItsRows() {
        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(a, () -> {
                    model.get("layer1").output().zero_();
                    return model.get("layer2").output();
                }),
                tr.invoke(b, () -> model.get("layer2").output())));

        assertTrue(same(layer("layer2").forward(torch.zeros(1, 10)), outputs.get(0).get()));
        assertTrue(same(net.forward(b), outputs.get(1).get()));
    }

    @Test
    void setOutputInOneInvoke_replacesOnlyItsRows() {
        Tensor replacement = torch.ones(2, 10);

        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(a, () -> model.get("layer2").output()),
                tr.invoke(b, () -> {
                    model.get("layer1").setOutput(replacement);
                    return model.get("layer2").output();
                })));

        assertTrue(same(net.forward(a), outputs.get(0).get()));
        assertTrue(same(layer("layer2").forward(replacement), outputs.get(1).get()));
    }

    @Test
    void setOutputWithTheWrongRows_failsNamingTheShapes() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(tr -> {
            tr.invoke(a, () -> null);
            tr.invoke(b, () -> model.get("layer1").setOutput(torch.ones(1, 10)));
            return null;
        }));

        assertTrue(error.getMessage().contains("[1, 10]") && error.getMessage().contains("[2, 10]"), error.getMessage());
    }

    @Test
    void valueReadInOneInvoke_isUsableInALaterOne() {
        AtomicReference<Tensor> first = new AtomicReference<>();

        Invoke<Tensor> patched = model.trace(tr -> {
            tr.invoke(a, () -> first.set(model.get("layer1").output().clone()));
            return tr.invoke(a, () -> {
                model.get("layer2").input(); // waits for layer2, which runs after invoke 0 read layer1
                model.get("layer2").setInput(first.get().mul(new Scalar(2.0)));
                return model.get("layer2").output();
            });
        });

        Tensor expected = layer("layer2").forward(layer("layer1").forward(a).mul(new Scalar(2.0)));
        assertTrue(same(expected, patched.get()));
    }

    @Test
    void invokeResult_readInALaterInvoke_atTheSameModule_patchesIt() {
        Tensor clean = a;
        Tensor corrupted = torch.rand(1, 5);

        Invoke<Tensor> patched = model.trace(tr -> {
            Invoke<Tensor> cleanHidden = tr.invoke(clean, () -> model.get("layer1").output().clone());
            return tr.invoke(corrupted, () -> {
                model.get("layer1").output().copy_(cleanHidden.get()); // the clean invoke returned at layer1
                return model.get("layer2").output();
            });
        });

        assertTrue(same(net.forward(clean), patched.get()));
    }

    @Test
    void invokeResult_readBeforeAnyRequest_waitsForThatInvoke_thenContinues() {
        Tensor clean = a;
        Tensor corrupted = torch.rand(1, 5);

        Invoke<Tensor> patched = model.trace(tr -> {
            Invoke<Tensor> cleanHidden = tr.invoke(clean, () -> model.get("layer1").output().clone());
            return tr.invoke(corrupted, () -> {
                Tensor hidden = cleanHidden.get(); // waits: at the start the clean invoke has not run
                model.get("layer1").setOutput(hidden);
                return model.get("layer2").output();
            });
        });

        assertTrue(same(net.forward(clean), patched.get()));
    }

    @Test
    void invokeResults_waitingForEachOther_failWhenTheRunEnds_namingBoth() {
        AtomicReference<Invoke<Tensor>> second = new AtomicReference<>();
        TraceException error = assertThrows(TraceException.class, () -> model.trace(tr -> {
            Invoke<Tensor> first = tr.invoke(a, () -> second.get().get());
            second.set(tr.invoke(b, () -> first.get()));
            return null;
        }));

        assertEquals("invoke 0 waited for the result of invoke 1, whose body had not returned when the run ended (it "
                + "waited for the result of invoke 0 itself): an invoke's result is readable once its body has "
                + "returned", error.getMessage().lines().findFirst().orElseThrow());
        assertTrue(same(net.forward(a), model.trace(a, tr -> model.get("layer2").output())), "the model is usable");
    }

    @Test
    void invokeResult_ofItsOwnInvoke_fails() {
        AtomicReference<Invoke<Tensor>> self = new AtomicReference<>();
        TraceException error = assertThrows(TraceException.class, () -> model.trace(tr -> {
            self.set(tr.invoke(a, () -> {
                model.get("layer1").output();
                return self.get().get();
            }));
            return null;
        }));

        assertTrue(error.getMessage().startsWith("invoke 0 asked for its own result"), error.getMessage());
    }

    @Test
    void barrier_letsALaterInvokePatchTheSameModule() {
        Tensor clean = a;
        Tensor corrupted = torch.rand(1, 5);

        Invoke<Tensor> patched = model.trace(tr -> {
            Barrier barrier = tr.barrier(2);
            AtomicReference<Tensor> cleanHidden = new AtomicReference<>();
            tr.invoke(clean, () -> {
                cleanHidden.set(model.get("layer1").output().clone());
                barrier.await();
            });
            return tr.invoke(corrupted, () -> {
                barrier.await();
                model.get("layer1").output().copy_(cleanHidden.get());
                return model.get("layer2").output();
            });
        });

        assertTrue(same(net.forward(clean), patched.get()));
    }

    @Test
    void barrierThatIsNeverComplete_failsWhenTheRunEnds() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(tr -> {
            Barrier barrier = tr.barrier(2);
            tr.invoke(a, () -> {
                model.get("layer1").output();
                barrier.await();
            });
            return null;
        }));

        assertTrue(error.getMessage().contains("barrier"), error.getMessage());
    }

    @Test
    void outOfOrderAcrossInvokes_isAllowed() {
        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(a, () -> model.get("layer2").output()),
                tr.invoke(() -> model.get("layer1").output())));

        assertTrue(same(net.forward(a), outputs.get(0).get()));
        assertTrue(same(layer("layer1").forward(a), outputs.get(1).get()));
    }

    @Test
    void skip_inEveryInvoke_replacesTheComputation() {
        Tensor skipA = torch.zeros(1, 10);
        Tensor skipB = torch.ones(2, 10);

        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(a, () -> {
                    model.get("layer1").skip(skipA);
                    return model.get("layer2").output();
                }),
                tr.invoke(b, () -> {
                    model.get("layer1").skip(skipB);
                    return model.get("layer1").output();
                })));

        assertTrue(same(layer("layer2").forward(skipA), outputs.get(0).get()));
        assertTrue(same(skipB, outputs.get(1).get()));
    }

    @Test
    void skip_fromAnInvokeWithoutInput_coversTheWholeBatch() {
        Tensor whole = torch.ones(3, 10);

        Invoke<Tensor> output = model.trace(tr -> {
            tr.invoke(a, () -> null);
            tr.invoke(b, () -> null);
            return tr.invoke(() -> {
                model.get("layer1").skip(whole);
                return model.get("layer2").output();
            });
        });

        assertTrue(same(layer("layer2").forward(whole), output.get()));
    }

    @Test
    void skip_inOnlySomeInvokes_failsNamingThem() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(tr -> {
            tr.invoke(a, () -> model.get("layer1").skip(torch.zeros(1, 10)));
            tr.invoke(b, () -> model.get("layer2").output());
            return null;
        }));

        assertTrue(error.getMessage().contains("invoke 0") && error.getMessage().contains("invoke 1"), error.getMessage());
    }

    @Test
    void skip_ofTheImplicitInvoke_skipsTheModule() {
        Tensor output = model.trace(a, tr -> {
            model.get("layer1").skip(torch.zeros(1, 10));
            return model.get("layer2").output();
        });

        assertTrue(same(layer("layer2").forward(torch.zeros(1, 10)), output));
    }

    @Test
    void skippedModule_innerModulesNeverRun() {
        Sequential inner = new Sequential().add("fc", new Linear(5, 5));
        Sequential outer = new Sequential().add("block", inner).add("head", new Linear(5, 2));
        NNsight wrapped = NNsight.wrap(outer);

        assertThrows(NotReachedException.class, () -> wrapped.trace(a, tr -> {
            wrapped.get("block").skip(a);
            return wrapped.get("block.fc").output();
        }));
    }

    @Test
    void invokesWithDifferentArguments_failToBatch() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> model.trace(tr -> {
            tr.invoke(a, () -> null);
            tr.invoke(Inputs.of(b, b), () -> null);
            return null;
        }));

        assertTrue(error.getMessage().contains("same number of arguments"), error.getMessage());
    }

    @Test
    void inputOfTheWrongType_failsSayingWhatTheModelTakes() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> model.trace("a string", tr -> null));

        assertTrue(error.getMessage().contains("Tensor or an Inputs"), error.getMessage());
    }

    /** A model with an option: {@code forward(Inputs)} reads a named {@code scale}. */
    static final class Scaled extends HookedModule {
        final Linear layer = register("layer", new Linear(5, 2));

        public Tensor forward(Inputs inputs) {
            return (Tensor) hooked(inputs, in -> {
                Tensor out = layer.forward(in.tensor(0));
                Object scale = in.get("scale");
                return scale == null ? out : out.mul(new Scalar((Double) scale));
            });
        }
    }

    @Test
    void traceGivenOnlyOptions_waitsForInvokes_andPassesTheOptions() {
        Scaled scaled = new Scaled();
        NNsight wrapped = NNsight.wrap(scaled);

        List<Invoke<Tensor>> outputs = wrapped.trace(Inputs.of().with("scale", 3.0), tr -> List.of(
                tr.invoke(a, () -> wrapped.output()),
                tr.invoke(b, () -> wrapped.output())));

        assertTrue(same(scaled.layer.forward(a).mul(new Scalar(3.0)), outputs.get(0).get()));
        assertTrue(same(scaled.layer.forward(b).mul(new Scalar(3.0)), outputs.get(1).get()));
    }

    @Test
    void invokeResult_beforeTheTraceReturned_fails() {
        AtomicReference<Invoke<Tensor>> handle = new AtomicReference<>();
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> model.trace(tr -> {
            handle.set(tr.invoke(a, () -> model.get("layer2").output()));
            return handle.get().get();
        }));

        assertTrue(error.getMessage().contains("inside the body of another invoke of the trace"), error.getMessage());
        assertTrue(error.getMessage().contains("once the trace has returned"), error.getMessage());
    }
}
