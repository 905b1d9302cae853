"""The ranking loss stays finite in float32, float16 and bfloat16."""

import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rankreward.loss import RankingLoss

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}

# Every family, with its parameter drawn over the range the spec accepts.
UTILITIES = st.one_of(
    st.sampled_from(["linear", "log", "inverse"]),
    st.floats(0.001, 0.999).map(lambda g: f"power:{g:.6g}"),
    st.floats(0.01, 100.0).map(lambda g: f"inverse-power:{g:.6g}"),
    st.floats(1e-4, 1e4).map(lambda s: f"logsigmoid:{s:.6g}"),
)


def loss_and_gradient(spec, difference, dtype):
    # Two responses whose rewards differ by ``difference``, in ``dtype``.
    rewards = torch.tensor(
        [0.5 + difference / 2, 0.5 - difference / 2], dtype=dtype, requires_grad=True
    )
    out = RankingLoss([spec])(
        rewards,
        torch.tensor([[0, 1]]),
        torch.tensor([0]),
        torch.tensor([1.0]),
        torch.tensor([0]),
    )
    out.loss.sum().backward()
    return out.loss, rewards.grad


@settings(max_examples=300, deadline=None)
@given(
    spec=UTILITIES,
    difference=st.floats(-1.0, 1.0, allow_nan=False),
    precision=st.sampled_from(sorted(DTYPES)),
)
@example(spec="log", difference=0.0, precision="float16")
@example(spec="inverse", difference=-1.0, precision="float16")
@example(spec="inverse-power:100", difference=1.0, precision="bfloat16")
@example(spec="power:0.001", difference=0.0, precision="float16")
def test_loss_and_gradient_are_finite(spec, difference, precision):
    loss, grad = loss_and_gradient(spec, difference, DTYPES[precision])
    assert torch.isfinite(loss).all(), f"loss {loss.tolist()}"
    assert torch.isfinite(grad).all(), f"gradient {grad.tolist()}"
    assert grad.dtype == DTYPES[precision]


def test_gradient_keeps_its_sign_when_clamped():
    # A reversed pair under log has slope 1e12, above float16's range: the
    # better response is still pushed up and the worse one down.
    _, grad = loss_and_gradient("log", -0.5, torch.float16)
    assert grad[0] == -torch.finfo(torch.float16).max
    assert grad[1] == torch.finfo(torch.float16).max


def test_float32_gradient_is_not_clamped():
    # d loss / d r_better = -U'(t) with U' = 1e12 on the tangent line.
    _, grad = loss_and_gradient("log", -0.5, torch.float32)
    assert float(grad[0]) == float(torch.tensor(-1e12, dtype=torch.float32))
