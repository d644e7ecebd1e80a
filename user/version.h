// irqlat's version, for --version and the metrics plugin's ABI check.
#pragma once

#ifndef IRQLAT_VERSION
#define IRQLAT_VERSION "0.1.0"
#endif
