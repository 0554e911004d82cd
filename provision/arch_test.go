package provision

import "runtime"

const runtimeGOARCH = runtime.GOARCH
