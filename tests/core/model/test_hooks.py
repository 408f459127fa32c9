"""Editing hooks: one mechanism with the capture path; an edit changes what follows it and nothing after the call."""

import pytest
import torch

from core import PlaygroundError


def test_identity_hooks_change_nothing_and_capture_equals_run_with_cache(tiny_model):
    ids = torch.randint(0, 97, (1, 10), generator=torch.Generator().manual_seed(0))
    plain, cache = tiny_model.run_with_cache(ids)
    hooks = [(name, layer, lambda x: None) for name in tiny_model.hook_names[1] for layer in range(2)]
    hooks += [(name, None, lambda x: x.clone()) for name in tiny_model.hook_names[0]]
    logits, hooked_cache = tiny_model.run_with_hooks(ids, hooks, return_cache=True)
    assert torch.equal(logits, plain)
    for key in cache.keys():
        assert torch.equal(cache.store[key], hooked_cache.store[key]), key


def test_zeroing_a_head_equals_the_same_edit_by_hand(tiny_model):
    ids = torch.randint(0, 97, (1, 12), generator=torch.Generator().manual_seed(1))

    def zero_head(z):
        z = z.clone()
        z[:, 2] = 0
        return z
    edited = tiny_model.run_with_hooks(ids, [("z", 1, zero_head)])
    attn = tiny_model.transformer.h[1].attn
    d_head = tiny_model.config.d_head

    def by_hand(module, args):  # c_proj reads the heads' z side by side: zero head 2's columns
        (y,) = args
        y = y.clone()
        y[..., 2 * d_head:3 * d_head] = 0
        return (y,)
    handle = attn.c_proj.register_forward_pre_hook(by_hand)
    try:
        with torch.no_grad():
            reference = tiny_model(ids)
    finally:
        handle.remove()
    assert torch.allclose(edited, reference, atol=1e-5)
    assert not torch.allclose(edited, tiny_model(ids), atol=1e-4)
    with torch.no_grad():  # the hook lived for that one call only
        assert torch.equal(tiny_model.run_with_cache(ids)[0], tiny_model.run_with_cache(ids)[0])


def test_bad_hooks_are_one_sentence(tiny_model):
    ids = [[1, 2, 3]]
    with pytest.raises(PlaygroundError, match="no hook point"):
        tiny_model.run_with_hooks(ids, [("nope", 0, lambda x: x)])
    with pytest.raises(PlaygroundError, match="layer from 0 to 1"):
        tiny_model.run_with_hooks(ids, [("z", 5, lambda x: x)])
    with pytest.raises(PlaygroundError, match="layer None"):
        tiny_model.run_with_hooks(ids, [("embed", 0, lambda x: x)])
    with pytest.raises(PlaygroundError, match="shape"):
        tiny_model.run_with_hooks(ids, [("resid_pre", 0, lambda x: x[:, :1])])


def test_an_edit_in_place_changes_only_its_own_point(tiny_model):
    """resid_post of one layer and resid_pre of the next are the same tensor: an edit of the second, made in place,
    leaves the captured first as it was."""
    ids = torch.randint(0, 97, (1, 6), generator=torch.Generator().manual_seed(2))
    _, plain = tiny_model.run_with_cache(ids)

    def zero_in_place(x):
        x.zero_()
        return x
    _, cache = tiny_model.run_with_hooks(ids, [("resid_pre", 1, zero_in_place)], return_cache=True)
    assert torch.equal(cache["resid_post", 0], plain["resid_post", 0])
    assert torch.equal(cache["resid_pre", 1], torch.zeros_like(plain["resid_pre", 1]))
    # returning None keeps the activation, even after an edit of the copy in place
    def zero_and_keep(x):
        x.zero_()
    logits = tiny_model.run_with_hooks(ids, [("resid_pre", 1, zero_and_keep)])
    assert torch.equal(logits, tiny_model.run_with_cache(ids)[0])


def test_logits_of_chosen_positions_only(tiny_model):
    ids = torch.randint(0, 97, (3, 8), generator=torch.Generator().manual_seed(3))
    hooks = [("z", 0, lambda z: z * 0.5)]
    full = tiny_model.run_with_hooks(ids, hooks)
    assert torch.allclose(tiny_model.run_with_hooks(ids, hooks, positions=-1), full[:, -1], atol=1e-6)
    assert torch.allclose(tiny_model.run_with_hooks(ids, hooks, positions=[0, 5]), full[:, [0, 5]], atol=1e-6)
