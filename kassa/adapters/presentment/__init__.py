"""Invoice presentment: the port in `base`, HTML in `html`, the WeasyPrint PDF in `pdf` (wired by bootstrap
only) and the EPC payment QR code in `qr`."""
