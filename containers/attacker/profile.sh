# labctl: python3 is the interpreter with scapy and labctl's CCSDS layers.
case ":$PATH:" in
    *:/opt/labctl/bin:*) ;;
    *) PATH="/opt/labctl/bin:$PATH" ;;
esac
export PATH
