"""Named places in the forward pass where activations can be read or changed.

A `HookPoint` is an identity layer. Its name is its path in the module tree
(`blocks.0.attn.hook_pattern`), which is how TransformerLens names its hooks too, so a cache
from this model and one from a `HookedTransformer` share their keys.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

# A hook gets (activation, hook_point) and returns a replacement activation or None.
HookFn = Callable[[Tensor, "HookPoint"], Tensor | None]


class HookPoint(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.name: str = ""
        self.fns: list[HookFn] = []

    def forward(self, x: Tensor) -> Tensor:
        for fn in self.fns:
            out = fn(x, self)
            if out is not None:
                if not isinstance(out, Tensor) or out.shape != x.shape:
                    raise ValueError(
                        f"A hook on {self.name} returned {getattr(out, 'shape', type(out).__name__)}; "
                        f"it must return None or a tensor of shape {tuple(x.shape)}."
                    )
                x = out
        return x


class HookedModule(nn.Module):
    """Adds `run_with_cache` and `run_with_hooks` to a module that contains `HookPoint`s."""

    def hook_points(self) -> dict[str, HookPoint]:
        points = {}
        for name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = name
                points[name] = module
        return points

    def run_with_hooks(self, *args, fwd_hooks: list[tuple[str, HookFn]] = (), **kwargs):
        points = self.hook_points()
        for name, _ in fwd_hooks:
            if name not in points:
                raise KeyError(f"No hook point named {name!r}. Some that exist: {list(points)[:6]} ...")
        try:
            for name, fn in fwd_hooks:
                points[name].fns.append(fn)
            return self(*args, **kwargs)
        finally:
            for point in points.values():
                point.fns.clear()

    def run_with_cache(self, *args, names_filter: Callable[[str], bool] | None = None, **kwargs):
        """Run forward and also return every hooked activation as TransformerLens's `ActivationCache`.

        Keyed by hook name, and by TransformerLens's short forms too: `cache["pattern", 0]` is
        `cache["blocks.0.attn.hook_pattern"]`, on this model as on a `HookedTransformer`.
        """
        from transformer_lens import ActivationCache  # heavy: imported only when a cache is asked for

        cache: dict[str, Tensor] = {}

        def save(x: Tensor, hook: HookPoint) -> None:
            cache[hook.name] = x.detach()

        names = [n for n in self.hook_points() if names_filter is None or names_filter(n)]
        out = self.run_with_hooks(*args, fwd_hooks=[(n, save) for n in names], **kwargs)
        return out, ActivationCache(cache, self)
