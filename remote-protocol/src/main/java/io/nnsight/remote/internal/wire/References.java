package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.Operation;
import io.nnsight.Source;
import io.nnsight.Tensors;
import io.nnsight.TraceBody;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Tokenizer;
import java.util.List;

/**
 * The values that travel as references to the model of the side that reads them: models and envoys (the
 * model's key and a module path), {@code .source} operations, a language model's tokenizer. And invoke
 * handles, which travel as their result.
 */
final class References {
    private References() {}

    /**
     * A model or an envoy as its path in the job's model (the model itself is the empty path); a wrapper with
     * edits ({@code model.edit(...)}) as the model and its edits, which the reading side applies to its model.
     */
    static final class EnvoySerializer extends Serializer<Envoy> {
        private final GraphBinding graph;

        EnvoySerializer(GraphBinding graph) {
            this.graph = graph;
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output output, Envoy envoy) {
            NNsight model = graph.model();
            // an edited copy shares the tree, and its root, of the wrapper it was copied from
            if (envoy.root() != model.root()) {
                String other = envoy.root().key().equals(model.key()) ? "another instance of " + model.key()
                        : "the model " + envoy.root().key();
                throw new IllegalArgumentException("the values refer to " + other + ", but this job runs on "
                        + model.key() + "; a job uses one model");
            }
            output.writeString(envoy.path());
            if (envoy instanceof NNsight) {
                List<TraceBody<?>> edits = ((NNsight) envoy).edits();
                output.writeVarInt(edits.size(), true);
                for (TraceBody<?> edit : edits) {
                    kryo.writeClassAndObject(output, edit);
                }
            }
        }

        @Override
        public Envoy read(Kryo kryo, Input input, Class<? extends Envoy> type) {
            NNsight model = graph.model();
            String path = input.readString();
            if (!path.isEmpty()) {
                return model.get(path);
            }
            int edits = input.readVarInt(true);
            NNsight edited = model;
            for (int i = 0; i < edits; i++) {
                Object edit = kryo.readClassAndObject(input);
                if (!(edit instanceof TraceBody)) {
                    throw new KryoException("an edit of the model is " + Tensors.describe(edit) + ", not a TraceBody");
                }
                edited = edited.edit((TraceBody<?>) edit);
            }
            return edited;
        }
    }

    /** A module's operations as the module's reference. */
    static final class SourceSerializer extends Serializer<Source> {
        @Override
        public void write(Kryo kryo, Output output, Source source) {
            kryo.writeObject(output, source.envoy());
        }

        @Override
        public Source read(Kryo kryo, Input input, Class<? extends Source> type) {
            return kryo.readObject(input, Envoy.class).source();
        }
    }

    /** An operation as its module's reference and its name. */
    static final class OperationSerializer extends Serializer<Operation> {
        @Override
        public void write(Kryo kryo, Output output, Operation operation) {
            kryo.writeObject(output, operation.envoy());
            output.writeString(operation.name());
        }

        @Override
        public Operation read(Kryo kryo, Input input, Class<? extends Operation> type) {
            return kryo.readObject(input, Envoy.class).source().op(input.readString());
        }
    }

    /** A language model's tokenizer as a reference to the job's model's. */
    static final class TokenizerSerializer extends Serializer<Tokenizer> {
        private final GraphBinding graph;

        TokenizerSerializer(GraphBinding graph) {
            this.graph = graph;
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output output, Tokenizer tokenizer) {
            NNsight model = graph.model();
            if (!(model instanceof LanguageModel) || ((LanguageModel) model).tokenizer() != tokenizer) {
                throw new IllegalArgumentException("a tokenizer travels as a reference to its model's: only the "
                        + "tokenizer of " + model.key() + " can be shipped with this job");
            }
        }

        @Override
        public Tokenizer read(Kryo kryo, Input input, Class<? extends Tokenizer> type) {
            NNsight model = graph.model();
            if (!(model instanceof LanguageModel)) {
                throw new IllegalArgumentException(model.key() + " is not a language model, so it has no tokenizer");
            }
            return ((LanguageModel) model).tokenizer();
        }
    }

    /** An invoke handle as its result; read back as a completed handle. */
    static final class InvokeSerializer extends Serializer<Invoke<?>> {
        @Override
        public void write(Kryo kryo, Output output, Invoke<?> invoke) {
            kryo.writeClassAndObject(output, invoke.get());
        }

        @Override
        public Invoke<?> read(Kryo kryo, Input input, Class<? extends Invoke<?>> type) {
            return Invoke.completed(kryo.readClassAndObject(input));
        }
    }
}
