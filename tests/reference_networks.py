"""Independent re-implementations of the public layouts, used to make "public" state dicts.

Written from the published architectures with the module names of the original code (PyTorch's
fast_neural_style example, junyanz/pytorch-CycleGAN-and-pix2pix), so that their ``state_dict()``
keys are the ones found in the files people download. Inference conventions are the originals':
fast-neural-style takes and returns 0-255, CycleGAN takes and returns [-1, 1].
"""

import torch
from torch import nn


class FnsConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class FnsUpsampleConvLayer(FnsConvLayer):
    def __init__(self, cin, cout, k, stride, upsample):
        super().__init__(cin, cout, k, stride)
        self.upsample = upsample

    def forward(self, x):
        return super().forward(nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample))


class FnsResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = FnsConvLayer(c, c, 3, 1)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = FnsConvLayer(c, c, 3, 1)
        self.in2 = nn.InstanceNorm2d(c, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class FastNeuralStyleNet(nn.Module):
    """The example's TransformerNet (affine instance norm, a bias on every conv)."""

    def __init__(self):
        super().__init__()
        norm = lambda c: nn.InstanceNorm2d(c, affine=True)  # noqa: E731
        self.conv1, self.in1 = FnsConvLayer(3, 32, 9, 1), norm(32)
        self.conv2, self.in2 = FnsConvLayer(32, 64, 3, 2), norm(64)
        self.conv3, self.in3 = FnsConvLayer(64, 128, 3, 2), norm(128)
        for i in range(1, 6):
            setattr(self, f"res{i}", FnsResidualBlock(128))
        self.deconv1, self.in4 = FnsUpsampleConvLayer(128, 64, 3, 1, 2), norm(64)
        self.deconv2, self.in5 = FnsUpsampleConvLayer(64, 32, 3, 1, 2), norm(32)
        self.deconv3 = FnsConvLayer(32, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)

    def stylize(self, content_0_255):
        """The example's inference: 0-255 in, clamp(0, 255) out."""
        with torch.no_grad():
            return self.forward(content_0_255).clamp(0, 255)


class OrigResnetBlock(nn.Module):
    def __init__(self, dim, norm_layer, use_dropout, use_bias):
        super().__init__()
        block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            block += [nn.Dropout(0.5)]
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class OriginalCycleGANGenerator(nn.Module):
    """``ResnetGenerator`` of the CycleGAN repository, one ``nn.Sequential`` called ``model``."""

    def __init__(self, ngf=64, n_blocks=9, norm="instance", use_dropout=False):
        super().__init__()
        if norm == "instance":
            norm_layer = lambda c: nn.InstanceNorm2d(c, affine=False)  # noqa: E731
            use_bias = True
        else:
            norm_layer = nn.BatchNorm2d
            use_bias = False
        model = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=use_bias), norm_layer(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2**i
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        model += [OrigResnetBlock(ngf * 4, norm_layer, use_dropout, use_bias) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, padding=1, output_padding=1, bias=use_bias),
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)

    def translate(self, image_0_255):
        """The original test-time path: [0, 255] -> [-1, 1] -> G -> [-1, 1] -> [0, 255]."""
        with torch.no_grad():
            return (self.forward(image_0_255 / 127.5 - 1.0) + 1.0) * 127.5


def randomize_affine_(module: nn.Module) -> nn.Module:
    """Non-trivial norm affine parameters, so a mis-mapped norm key cannot go unnoticed."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("weight") and param.dim() == 1:
                param.uniform_(0.5, 1.5)
            elif name.endswith("bias") and param.dim() == 1:
                param.uniform_(-0.5, 0.5)
    return module


# ---------------------------------------------------------------- AdaIN (naoto0804/pytorch-AdaIN)
# The port's two nn.Sequentials, built here from the VGG19 architecture with the port's layer order
# (1x1 conv first, reflection pad before every 3x3 conv, ceil-mode max pools), so that
# ``state_dict()`` keys are the ones in its vgg_normalised.pth (0.weight ... 52) and decoder.pth
# (1.weight ... 26.weight). ``width`` is 64 in the public files; smaller only to keep tests cheap.
# The functions below are the port's test-time computation written from its description: statistics
# with the unbiased variance plus eps, AdaIN, Eq. 14, interpolation as a weighted sum of AdaIN
# outputs, and CORAL colour matching with an SVD matrix square root.


def _pad_conv_relu(cin, cout, relu=True):
    return [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, cout, (3, 3))] + ([nn.ReLU()] if relu else [])


def _max_pool():
    return nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)


def port_vgg(width=64):
    """The whole normalised VGG19 of the port (53 layers; relu4_1 is index 30)."""
    widths = [width, 2 * width, 4 * width, 8 * width, 8 * width]
    convs_per_block = [2, 2, 4, 4, 4]
    layers, cin = [nn.Conv2d(3, 3, (1, 1))], 3
    for block, (cout, count) in enumerate(zip(widths, convs_per_block, strict=True)):
        if block:
            layers.append(_max_pool())
        for _ in range(count):
            layers += _pad_conv_relu(cin, cout)
            cin = cout
    return nn.Sequential(*layers)


def port_decoder(width=64):
    """The port's decoder (relu4_1 features in, RGB on a 0-1 scale out, unclamped)."""
    w1, w2, w3, w4 = width, 2 * width, 4 * width, 8 * width
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
    layers = [*_pad_conv_relu(w4, w3), up()]
    for _ in range(3):
        layers += _pad_conv_relu(w3, w3)
    layers += [*_pad_conv_relu(w3, w2), up()]
    layers += [*_pad_conv_relu(w2, w2), *_pad_conv_relu(w2, w1), up()]
    layers += _pad_conv_relu(w1, w1) + _pad_conv_relu(w1, 3, relu=False)
    return nn.Sequential(*layers)


def port_encoder(vgg):
    """What the port's test.py runs: the VGG cut after relu4_1."""
    return nn.Sequential(*list(vgg.children())[:31])


def port_mean_std(features, eps=1e-5):
    n, c = features.shape[:2]
    flat = features.reshape(n, c, -1)
    return flat.mean(dim=2).reshape(n, c, 1, 1), (flat.var(dim=2) + eps).sqrt().reshape(n, c, 1, 1)


def port_adain(content_features, style_features):
    content_mean, content_std = port_mean_std(content_features)
    style_mean, style_std = port_mean_std(style_features)
    return (content_features - content_mean) / content_std * style_std + style_mean


def port_style_transfer(encoder, decoder, content, styles, alpha=1.0, weights=None):
    """``content`` ``(1, 3, H, W)``; ``styles`` ``(S, 3, h, w)``; ``weights`` one per style (or None for S=1)."""
    with torch.no_grad():
        content_features = encoder(content)
        if weights is None:
            target = port_adain(content_features, encoder(styles))
        else:
            each = port_adain(content_features.expand(len(styles), -1, -1, -1), encoder(styles))
            target = sum(w * each[i : i + 1] for i, w in enumerate(weights))
        return decoder(target * alpha + content_features * (1 - alpha))


def _matrix_sqrt(matrix):
    u, d, v = torch.svd(matrix)
    return u @ torch.diag(d.sqrt()) @ v.T


def port_coral(source, target):
    """``source`` (3, H, W) given ``target``'s colour mean and covariance, the port's way."""

    def standardise(image):
        flat = image.reshape(3, -1)
        mean, std = flat.mean(-1, keepdim=True), flat.std(-1, keepdim=True)
        return (flat - mean) / std, mean, std

    source_norm, _, _ = standardise(source)
    target_norm, target_mean, target_std = standardise(target)
    source_cov = source_norm @ source_norm.T + torch.eye(3)
    target_cov = target_norm @ target_norm.T + torch.eye(3)
    moved = _matrix_sqrt(target_cov) @ (torch.inverse(_matrix_sqrt(source_cov)) @ source_norm)
    return (moved * target_std + target_mean).reshape(source.shape)
