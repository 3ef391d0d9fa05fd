// Package export turns OFA MobileNetV3 subnets and single layers into ONNX
// models and checks them against ONNX Runtime.
//
// # Subnets
//
// [Write] and [WriteFile] serialize a [supernet.Net] as an ONNX model
// (opset [DefaultOpset] = 17 unless [Metadata].Opset says otherwise, IR
// version 8): input "input" [N,3,r,r] with a symbolic batch N, output
// "logits" [N,classes]. BatchNorm is folded into the preceding convolution
// in float64; h_swish and h_sigmoid become ONNX HardSwish and HardSigmoid
// (alpha 1/6, beta 1/2, as in PyTorch); squeeze-and-excitation is
// GlobalAveragePool, Conv, Relu, Conv, HardSigmoid, Mul; and the head is
// Conv (final expand), GlobalAveragePool, Conv (feature mix), HardSwish,
// Flatten, Gemm. The model's metadata_props record the config, space,
// checkpoint hash, edgefit version and any predictions (see the Key*
// constants). Output is deterministic: the same net and metadata give the
// same bytes.
//
// # Layers
//
// [LayerModel] builds a standalone model of any one [supernet.Layer] (one
// entry of an OFA latency lookup table) with seeded random weights, using
// the same emitters as the subnet writer, so that timing a layer alone
// times exactly the nodes it contributes to a subnet.
//
// # Checking
//
// [Forward] is a plain Go forward pass of a Net that follows OFA's PyTorch
// modules, and [ForwardCodes] the same with batch statistics that returns
// the binary codes of every ReLU and h_swish input ([CodeLayers]), the
// reference of the zero-cost proxy (package export/zerocost); [Verify] runs an exported model with ONNX Runtime (package
// [github.com/edgefit/edgefit/export/ort]) and reports the largest
// difference from it, and [Compare] how it agrees under the one rule every
// exported model is checked by ([VerifyTolerance], [Agreement.OK]).
//
// Package export imports supernet, its own subpackages and leaf helpers
// under internal/ only. Its subpackage ort is edgefit's only cgo: export
// imports it where it runs models (Verify), and only the agent besides.
package export
