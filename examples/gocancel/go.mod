module gocancel

go 1.19
