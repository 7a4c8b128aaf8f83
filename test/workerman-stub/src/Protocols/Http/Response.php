<?php
/**
 * Tiny HTTP response for the Workerman stand-in.
 * new Response(200, ['Content-Type' => 'text/plain'], 'body')
 */

namespace Workerman\Protocols\Http;

class Response
{
    public const PHRASES = [
        100 => 'Continue', 101 => 'Switching Protocols',
        200 => 'OK', 201 => 'Created', 202 => 'Accepted', 204 => 'No Content',
        301 => 'Moved Permanently', 302 => 'Found', 304 => 'Not Modified',
        400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden', 404 => 'Not Found',
        405 => 'Method Not Allowed', 408 => 'Request Timeout', 413 => 'Payload Too Large',
        500 => 'Internal Server Error', 502 => 'Bad Gateway', 503 => 'Service Unavailable',
    ];

    protected int $status;
    protected ?string $reason = null;
    /** @var array<string, string> original-case names */
    protected array $headers = [];
    protected string $body;
    protected string $version = '1.1';

    public function __construct(int $status = 200, array $headers = [], string $body = '')
    {
        $this->status = $status;
        foreach ($headers as $name => $value) {
            $this->header((string)$name, $value);
        }
        $this->body = $body;
    }

    public function header(string $name, $value): self
    {
        foreach (array_keys($this->headers) as $existing) {
            if (strcasecmp($existing, $name) === 0) {
                unset($this->headers[$existing]);
            }
        }
        $this->headers[$name] = is_array($value) ? implode(', ', $value) : (string)$value;
        return $this;
    }

    public function withHeader(string $name, $value): self
    {
        return $this->header($name, $value);
    }

    public function withHeaders(array $headers): self
    {
        foreach ($headers as $name => $value) {
            $this->header((string)$name, $value);
        }
        return $this;
    }

    public function withoutHeader(string $name): self
    {
        foreach (array_keys($this->headers) as $existing) {
            if (strcasecmp($existing, $name) === 0) {
                unset($this->headers[$existing]);
            }
        }
        return $this;
    }

    public function getHeader(string $name): ?string
    {
        foreach ($this->headers as $existing => $value) {
            if (strcasecmp($existing, $name) === 0) {
                return $value;
            }
        }
        return null;
    }

    public function getHeaders(): array
    {
        return $this->headers;
    }

    public function withStatus(int $code, ?string $reasonPhrase = null): self
    {
        $this->status = $code;
        $this->reason = $reasonPhrase;
        return $this;
    }

    public function getStatusCode(): int
    {
        return $this->status;
    }

    public function getReasonPhrase(): string
    {
        return $this->reason ?? (self::PHRASES[$this->status] ?? 'Unknown');
    }

    public function withProtocolVersion(string $version): self
    {
        $this->version = $version;
        return $this;
    }

    public function withBody(string $body): self
    {
        $this->body = $body;
        return $this;
    }

    public function rawBody(): string
    {
        return $this->body;
    }

    /** Full HTTP message; $keepAlive decides the Connection header unless one was set. */
    public function encode(bool $keepAlive = true): string
    {
        $out = "HTTP/{$this->version} {$this->status} {$this->getReasonPhrase()}\r\n";
        $headers = $this->headers;
        if ($this->getHeader('Server') === null) {
            $headers = ['Server' => 'workerman'] + $headers;
        }
        if ($this->getHeader('Connection') === null) {
            $headers['Connection'] = $keepAlive ? 'keep-alive' : 'close';
        }
        if ($this->getHeader('Content-Type') === null) {
            $headers['Content-Type'] = 'text/html;charset=utf-8';
        }
        if ($this->getHeader('Content-Length') === null && $this->getHeader('Transfer-Encoding') === null) {
            $headers['Content-Length'] = (string)strlen($this->body);
        }
        foreach ($headers as $name => $value) {
            $out .= "$name: $value\r\n";
        }
        return $out . "\r\n" . $this->body;
    }

    public function __toString(): string
    {
        return $this->encode(true);
    }
}
