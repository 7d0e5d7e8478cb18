/// One layer of a dlib network type, as the C++ template spells it. dlib files do not describe
/// their own architecture, so the loader walks one of these lists and checks the file against it.
public enum DlibLayerSpec: Sendable, Equatable {
    case con(filters: Int, kernel: Int, stride: Int)
    case affine
    case relu
    case maxPool(window: Int, stride: Int)
    /// window 0 = global pooling.
    case avgPool(window: Int, stride: Int)
    case tag(Int)
    case skip(Int)
    case addPrev(Int)
    case fc(outputs: Int)

    var isComputational: Bool {
        switch self {
        case .tag, .skip: return false
        default: return true
        }
    }
}

/// dlib's `dlib_face_recognition_resnet_model_v1` (spec §4.1), outermost first.
public enum ResNetArchitecture {
    /// BN<con<N,3,3,1,1, relu<BN<con<N,3,3,s,s, SUBNET>>>>>
    static func block(_ n: Int, stride: Int) -> [DlibLayerSpec] {
        [.affine, .con(filters: n, kernel: 3, stride: 1), .relu, .affine, .con(filters: n, kernel: 3, stride: stride)]
    }

    /// relu<add_prev1<block<N,1,tag1<SUBNET>>>>
    static func ares(_ n: Int) -> [DlibLayerSpec] {
        [.relu, .addPrev(1)] + block(n, stride: 1) + [.tag(1)]
    }

    /// relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<SUBNET>>>>>>>
    static func aresDown(_ n: Int) -> [DlibLayerSpec] {
        [.relu, .addPrev(2), .avgPool(window: 2, stride: 2), .skip(1), .tag(2)] + block(n, stride: 2) + [.tag(1)]
    }

    public static let layers: [DlibLayerSpec] =
        [.fc(outputs: 128), .avgPool(window: 0, stride: 1)]
        + aresDown(256)
        + ares(256) + ares(256) + aresDown(256)
        + ares(128) + ares(128) + aresDown(128)
        + ares(64) + ares(64) + ares(64) + aresDown(64)
        + ares(32) + ares(32) + ares(32)
        + [.maxPool(window: 3, stride: 2), .relu, .affine, .con(filters: 32, kernel: 7, stride: 2)]
}

/// dlib's MMOD face detector network (spec §5.1), outermost first.
public enum MMODArchitecture {
    static func rcon5(_ n: Int) -> [DlibLayerSpec] { [.relu, .affine, .con(filters: n, kernel: 5, stride: 1)] }
    static func con5d(_ n: Int) -> [DlibLayerSpec] { [.relu, .affine, .con(filters: n, kernel: 5, stride: 2)] }

    public static let layers: [DlibLayerSpec] =
        [.con(filters: 1, kernel: 9, stride: 1)] + rcon5(45) + rcon5(45) + rcon5(45) + con5d(32) + con5d(32) + con5d(16)
}
