"""A task's fused train-step loss (Task.fused_loss_numerators) against its materialised logits: same logs and
weights after SGD steps with gradient accumulation, and the fused step never runs the tied projection."""

import numpy as np

from tfpretrain.keras import keras


def check_fused_loss(make_task, features, batch_size, monkeypatch, chunk_rows):
    """make_task(loss_chunk_rows) -> a fresh task. Trains, from the same weights, 2 steps of 2 micro-batches each:
    loss_chunk_rows=0 as a plain graph (the reference: materialised logits) and loss_chunk_rows=chunk_rows under XLA
    (fused). TokenEmbedding's reverse call (the tied projection over the positions) must run for the first and never
    for the second; the same task compiled without XLA must not fuse (the fusion is for compiled steps)."""
    from tfpretrain.layers.token_embedding import TokenEmbedding

    projected = []
    call = TokenEmbedding.call
    monkeypatch.setattr(TokenEmbedding, "call", lambda self, inputs, reverse=False: (
        projected.append(self) if reverse else None, call(self, inputs, reverse=reverse))[1])
    models = {}
    for rows in (0, chunk_rows):
        keras.utils.set_random_seed(0)
        models[rows] = make_task(rows)
        models[rows].compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=rows > 0)
    models[chunk_rows].set_weights(models[0].get_weights())
    projected.clear()  # the functional graphs call it once at construction
    logs = {rows: model.fit(features, epochs=2, batch_size=batch_size, verbose=0).history
            for rows, model in models.items()}
    assert set(logs[0]) == set(logs[chunk_rows])
    for key in logs[0]:
        np.testing.assert_allclose(logs[chunk_rows][key], logs[0][key], rtol=2e-5, err_msg=key)
    assert logs[0]["loss"][1] < logs[0]["loss"][0]
    for fused, materialised in zip(models[chunk_rows].get_weights(), models[0].get_weights()):
        np.testing.assert_allclose(fused, materialised, rtol=1e-4, atol=1e-6)
    embedding = {rows: model.backbone.token_embedding for rows, model in models.items()}
    assert embedding[0] in projected and embedding[chunk_rows] not in projected

    uncompiled = models[chunk_rows]
    uncompiled.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    assert uncompiled.fused_loss_numerators(features) is None
    return logs[0]
