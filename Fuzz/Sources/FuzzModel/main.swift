import ArgusFace
import ArgusNN

/// The dlib model loaders on hostile files: the first byte picks the network file's architecture
/// (ResNet descriptor or MMOD detector) or the shape predictor; the rest is the file. A loader
/// must refuse with a typed error, never crash, overread or allocate what the file merely claims.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 3 {
    case 0: _ = try? DlibNetworkFile(bytes: bytes, architecture: ResNetArchitecture.layers)
    case 1: _ = try? DlibNetworkFile(bytes: bytes, architecture: MMODArchitecture.layers)
    default: _ = try? LandmarkPredictor(bytes: bytes)
    }
    return 0
}
