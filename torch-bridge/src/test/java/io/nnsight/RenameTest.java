package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.Mlp;
import io.nnsight.spi.ClientAliases;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * {@code NNsight.rename}: aliases of module paths, usable wherever a path is, named beside the path in messages,
 * and refused when they would be ambiguous.
 */
class RenameTest {
    private final Mlp mlp = Models.mlp();
    private final NNsight model = NNsight.wrap(mlp);
    private final Tensor input = torch.randn(2, 64);

    @Test
    void get_byAlias_isTheModuleTheAliasStandsFor() {
        model.rename(Map.of("layers", "blocks", "head", "unembed", "layers.0.0", "first"));

        assertSame(model.get("layers.3.0"), model.get("blocks.3.0"));
        assertSame(model.get("head"), model.get("unembed"));
        assertSame(model.get("layers.0.0"), model.get("first"));
        assertSame(model.get("layers.3"), model.get("blocks").get("3"));
        assertEquals("layers.3.0", model.get("blocks.3.0").path());
        assertEquals("blocks.3.0", model.get("layers.3.0").aliasedPath());
        assertEquals("first", model.get("layers.0.0").aliasedPath(), "the longest aliased path wins");
        assertEquals("head", model.get("head").path());
    }

    @Test
    void alias_ofAPathManyModulesHave_standsForItAtEach() {
        model.rename(Map.of(".0", "linear"));   // nnsight's leading dot is allowed

        assertSame(model.get("layers.7.0"), model.get("layers.7.linear"));
        assertSame(model.get("layers.0"), model.get("layers.linear"), "layers has a child 0 too");
        assertEquals("layers.linear.linear", model.get("layers.0.0").aliasedPath());
    }

    @Test
    void trace_readsAndWritesByAlias_asByPath() {
        model.rename(Map.of("layers", "blocks"));

        Tensor byPath = model.trace(input, tr -> model.get("layers.5").output().clone());
        Tensor byAlias = model.trace(input, tr -> model.get("blocks.5").output().clone());
        Tensor zeroed = model.trace(input, tr -> {
            model.get("blocks.5").output().zero_();
            return model.get("layers.6.0").input();
        });

        assertTrue(byPath.equal(byAlias));
        assertTrue(zeroed.equal(torch.zeros_like(zeroed)));
    }

    @Test
    void cache_byAlias_recordsAndReadsTheModule() {
        model.rename(Map.of("layers", "blocks"));

        Cache cache = model.trace(input, tr -> tr.cache("blocks.2", "head"));

        assertEquals(List.of("layers.2", "head"), List.copyOf(cache.modules().keySet()));
        assertTrue(cache.output("blocks.2").equal(cache.output("layers.2")));
    }

    @Test
    void errors_nameTheModuleByPathAndAlias() {
        model.rename(Map.of("layers", "blocks"));

        OutOfOrderException error = assertThrows(OutOfOrderException.class, () -> model.trace(input, tr -> {
            model.get("blocks.5").output();
            return model.get("blocks.2").output();
        }));

        assertTrue(error.getMessage().contains("layers.2 (blocks.2)"), error.getMessage());
        assertTrue(error.getMessage().contains("layers.5 (blocks.5)"), error.getMessage());
    }

    @Test
    void get_misspelledAlias_suggestsAliasedPaths_andListsTheAliases() {
        model.rename(Map.of("layers", "blocks"));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> model.get("blokcs.3"));

        assertTrue(error.getMessage().contains("its aliases are blocks (layers)"), error.getMessage());
        assertTrue(error.getMessage().contains("Close matches: blocks.3"), error.getMessage());
    }

    @Test
    void rename_isRefused_whenAmbiguous_addingNothing() {
        IllegalArgumentException dotted = assertThrows(IllegalArgumentException.class,
                () -> model.rename(Map.of("layers", "my.layers")));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> model.rename(Map.of("layres", "blocks")));
        IllegalArgumentException hiding = assertThrows(IllegalArgumentException.class,
                () -> model.rename(Map.of("layers.0", "head")));
        model.rename(Map.of("head", "out"));
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
                () -> model.rename(Map.of("layers.0", "out")));

        assertTrue(dotted.getMessage().contains("one path segment"), dotted.getMessage());
        assertTrue(missing.getMessage().contains("close matches: layers"), missing.getMessage());
        assertTrue(hiding.getMessage().contains("has a module named 'head'"), hiding.getMessage());
        assertTrue(twice.getMessage().contains("'out' already stands for 'head'"), twice.getMessage());
        assertEquals(Map.of("head", List.of("out")), model.renames());
    }

    @Test
    void aliases_belongToTheTree_soCopiesHaveThem() {
        NNsight ablated = model.edit(tr -> model.get("layers.0").output().zero_());
        model.rename(Map.of("layers", "blocks"));

        assertSame(model.get("layers.4"), ablated.get("blocks.4"));
        assertEquals(Map.of("layers", List.of("blocks")), ablated.renames());
    }

    @Test
    void toString_showsAliasesBesideTheModules() {
        model.rename(Map.of("head", "unembed"));

        assertTrue(model.toString().contains("(head, alias unembed): Linear("), model.toString());
    }

    @Test
    void clientAliases_during_addsThemForTheJobOnly_evenWhenItThrows() {
        model.rename(Map.of("head", "unembed"));
        Map<String, List<String>> renames = Map.of("layers", List.of("blocks"), "head", List.of("unembed"));
        assertTrue(ClientAliases.addTo(model, renames), "blocks is new");
        assertFalse(ClientAliases.addTo(model, Map.of("head", List.of("unembed"))), "the model's own need nothing");

        Tensor byAlias = ClientAliases.during(model, renames,
                () -> model.trace(input, tr -> model.get("blocks.5").output().clone()));
        assertThrows(IllegalStateException.class, () -> ClientAliases.during(model, renames, () -> {
            assertSame(model.get("layers.2"), model.get("blocks.2"));
            throw new IllegalStateException("the job failed");
        }));

        assertTrue(byAlias.equal(model.trace(input, tr -> model.get("layers.5").output().clone())));
        assertEquals(Map.of("head", List.of("unembed")), model.renames(), "its own alias stays, the job's went");
        assertEquals("layers.2", model.get("layers.2").aliasedPath());
        IllegalArgumentException gone = assertThrows(IllegalArgumentException.class, () -> model.get("blocks.2"));
        assertTrue(gone.getMessage().contains("'blocks'"), gone.getMessage());
    }

    @Test
    void clientAliases_during_ofAnAliasThatDoesNotFit_addsNoneAndRunsNothing() {
        boolean[] ran = {false};

        IllegalArgumentException misfit = assertThrows(IllegalArgumentException.class,
                () -> ClientAliases.during(model, Map.of("layers", List.of("blocks"), "layerz", List.of("x")), () -> {
                    ran[0] = true;
                    return null;
                }));

        assertTrue(misfit.getMessage().contains("'layerz'"), misfit.getMessage());
        assertFalse(ran[0]);
        assertEquals(Map.of(), model.renames());
    }
}
