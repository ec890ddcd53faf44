# FastMCP's own stdio proxy (`create_proxy`), for the peer row of bench/stdio.mjs: no policy, no
# records. Run with the interpreter scripts/python-mcp.sh installs fastmcp into.
#   python bench/fastmcp-proxy.py <command> [args...]   (the downstream server, spawned over stdio)
import sys

from fastmcp.client.transports import StdioTransport
from fastmcp.server import create_proxy

if len(sys.argv) < 2:
    sys.exit("usage: python bench/fastmcp-proxy.py <command> [args...]")
create_proxy(StdioTransport(command=sys.argv[1], args=sys.argv[2:])).run(transport="stdio", show_banner=False)
