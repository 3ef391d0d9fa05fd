#!/usr/bin/python3
# Writes the small test models of profiler/bench (run with Debian's
# python3-onnx and python3-numpy: /usr/bin/python3 gen_models.py).
#
# tinynet.onnx: a MobileNetV3-like block — conv 3x3/2 + HardSwish,
# depthwise 3x3 + ReLU, squeeze-and-excite (HardSigmoid gate), 1x1 conv,
# global average pool, Gemm to 10 logits — on a [N,3,64,64] input, so the
# agent tests exercise the kernels OFA subnets use, on x86-64 and arm64.
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)

def w(name, *shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

inits = [
    w("c1_w", 16, 3, 3, 3), w("c1_b", 16, scale=0.1),
    w("dw_w", 16, 1, 3, 3), w("dw_b", 16, scale=0.1),
    w("se1_w", 4, 16, 1, 1), w("se1_b", 4, scale=0.1),
    w("se2_w", 16, 4, 1, 1), w("se2_b", 16, scale=0.1),
    w("pw_w", 24, 16, 1, 1), w("pw_b", 24, scale=0.1),
    w("fc_w", 10, 24), w("fc_b", 10, scale=0.1),
]
nodes = [
    helper.make_node("Conv", ["input", "c1_w", "c1_b"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    helper.make_node("HardSwish", ["c1"], ["a1"]),
    helper.make_node("Conv", ["a1", "dw_w", "dw_b"], ["dw"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=16),
    helper.make_node("Relu", ["dw"], ["a2"]),
    helper.make_node("GlobalAveragePool", ["a2"], ["se_pool"]),
    helper.make_node("Conv", ["se_pool", "se1_w", "se1_b"], ["se1"], kernel_shape=[1, 1]),
    helper.make_node("Relu", ["se1"], ["se1r"]),
    helper.make_node("Conv", ["se1r", "se2_w", "se2_b"], ["se2"], kernel_shape=[1, 1]),
    helper.make_node("HardSigmoid", ["se2"], ["gate"], alpha=1.0 / 6, beta=0.5),
    helper.make_node("Mul", ["a2", "gate"], ["se"]),
    helper.make_node("Conv", ["se", "pw_w", "pw_b"], ["pw"], kernel_shape=[1, 1]),
    helper.make_node("GlobalAveragePool", ["pw"], ["pool"]),
    helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1),
]
graph = helper.make_graph(
    nodes, "tinynet",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 64, 64])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
    initializer=inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="edgefit-testdata")
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, "tinynet.onnx")
