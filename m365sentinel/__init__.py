"""m365sentinel: connect Microsoft 365 Defender (Defender XDR) to Microsoft Sentinel from code."""
__version__ = "0.1.0"
