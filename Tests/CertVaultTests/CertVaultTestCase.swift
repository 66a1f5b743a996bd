import Foundation
import XCTest

@testable import CertVault

/// What every library test can assert.
class CertVaultTestCase: XCTestCase {
    func assertCode(
        _ code: CertVaultError.Code,
        _ body: () throws -> Void,
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, code, "\(error)", file: file, line: line)
        }
    }
}
